"""The simulated world: emulated sensor, rendered camera, scenarios. Only the lowest layer."""

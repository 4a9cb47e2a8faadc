"""Sensors: the MLX90614 driver, the thermometer sampler, calibration, GPIO inputs."""

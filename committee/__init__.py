"""The residents committee server."""

"""Camera: frame sources and the QR scanner."""

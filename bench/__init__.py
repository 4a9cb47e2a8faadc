"""Benchmarks for kiosk. ``python -m bench.scanner`` measures QR decoding on a generated corpus."""

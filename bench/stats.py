"""Shared helpers for the benchmarks: robust summaries and a description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
from importlib import metadata


def summary(values: list[float], digits: int = 2) -> dict:
    """Median, p95, min, max and the interquartile spread of *values*."""
    data = sorted(values)
    if not data:
        return {"n": 0}
    q = statistics.quantiles(data, n=20, method="inclusive") if len(data) > 1 else [data[0]] * 19
    quart = statistics.quantiles(data, n=4, method="inclusive") if len(data) > 1 else [data[0]] * 3
    return {
        "n": len(data),
        "median": round(statistics.median(data), digits),
        "p95": round(q[18], digits),
        "min": round(data[0], digits),
        "max": round(data[-1], digits),
        "iqr": round(quart[2] - quart[0], digits),
    }


def machine() -> dict:
    """CPU model, cores, Python and the versions of the libraries that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    libs = {}
    for name in (
        "zxing-cpp",
        "pyzbar",
        "opencv-python-headless",
        "numpy",
        "gpiozero",
        "flask",
        "waitress",
        "uvicorn",
        "cryptography",
        "sqlalchemy",
        "psycopg",
    ):
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "libraries": libs,
    }

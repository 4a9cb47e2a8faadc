"""Image files whose headers declare more pixels than they hold: what an attacker sends."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(path: Path, width: int, height: int, rows: int | None = None) -> Path:
    """A greyscale PNG of *width* x *height* whose data holds *rows* black rows (all of them
    when ``None``): a few hundred bytes can declare gigapixels."""
    deflate = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0 and a black row
    parts = [deflate.compress(row) for _ in range(height if rows is None else rows)]
    parts.append(deflate.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
    return path


def jpeg_declaring(path: Path, width: int, height: int) -> Path:
    """A 16x16 JPEG whose frame header (SOF0) is rewritten to declare *width* x *height*."""
    ok, data = cv2.imencode(".jpg", np.zeros((16, 16), np.uint8))
    assert ok
    data = bytearray(data.tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path

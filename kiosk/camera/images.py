"""Image files from outside, loaded with their size checked before anything is decoded.

A picture file says in its header how many pixels it holds, and a decoder allocates that
much before it reads a single pixel: a 950 KB PNG can declare 900 megapixels (about 2 GB to
decode), and one declaring 60000x60000 makes OpenCV raise an assertion error. So
:func:`load_image` reads the header first (with the ``imagesize`` library, which reads
headers only) and refuses anything over the pixel budget, or whose size it cannot tell,
without decoding it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import imagesize
import numpy as np

from kiosk.errors import CameraError

__all__ = ["MAX_IMAGE_PIXELS", "load_image"]

MAX_IMAGE_PIXELS = 50_000_000
"""The largest image :func:`load_image` decodes, in pixels (50 megapixels: a 50 MP phone
photo, or an A4 card scanned at 600 dpi, is 35 to 50; a camera frame is at most 2)."""


def load_image(path: str | Path, *, grey: bool, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode the image file *path* as uint8 pixels, if its header declares a sane size.

    :param grey: ``True`` for a 2-D greyscale array, ``False`` for BGR (height x width x 3).
    :param max_pixels: refuse images declaring more pixels than this (width x height).
    :raises CameraError: naming the file when it is missing, a folder, unreadable, of a
        size its header does not tell, over *max_pixels*, or not decodable.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            width, height = imagesize.get(handle)
            if width <= 0 or height <= 0:
                raise CameraError(
                    f"{path}: not an image (or a format whose size cannot be read before "
                    "decoding; use PNG, JPEG, BMP, TIFF, WebP or PGM/PPM)"
                )
            if width * height > max_pixels:
                raise CameraError(
                    f"{path}: refused, the image declares {width}x{height} pixels "
                    f"({width * height / 1e6:.0f} megapixels; at most {max_pixels / 1e6:g})"
                )
            # no format needs more than 8 bytes a pixel (16-bit RGBA): the rest is not image
            limit = 8 * width * height + (1 << 20)
            handle.seek(0)
            data = np.frombuffer(handle.read(limit + 1), dtype=np.uint8)
            if data.size > limit:
                raise CameraError(f"{path}: refused, the file is larger than its image")
    except FileNotFoundError:
        raise CameraError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CameraError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise CameraError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    except cv2.error:  # a header this check passed that OpenCV still refuses
        image = None
    if image is None:
        raise CameraError(f"{path}: not an image (or a format OpenCV cannot read)")
    return image

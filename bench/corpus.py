"""A generated corpus of kiosk camera frames for the scanner benchmark.

Nothing here is committed as images: :func:`build` renders the frames with the simulated
camera's renderer and writes them to ``bench/corpus/`` (git-ignored), with a ``manifest.json``
naming the text each frame holds. The same seed gives the same corpus.

Each frame with a code holds one pass: random alphanumeric text (the alphabet of base45 pass
tokens) of a length that makes a QR code of version 3 to 6 at error correction M, shown on a
phone screen (a quarter of them in dark mode, half with glare) or a printed card, tilted up to
30°, turned up to 40°, defocused, sometimes motion-blurred, with sensor noise and, for half
the frames, MJPEG compression. Sizes run from small (2 pixels per module) to large. Empty
frames show the scene, some with a phone whose screen shows no code.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import segno

from kiosk.sim.camera import Style, render_frame

ALPHANUMERIC = string.digits + string.ascii_uppercase + " $%*+-./:"
SIZES = ((640, 480), (1280, 720))
DEFAULT_DIR = Path(__file__).resolve().parent / "corpus"
CORPUS_VERSION = 1
"""Bump when the renderer or the draw changes, so a stale corpus on disk is rebuilt."""

# Alphanumeric capacity at error correction M for versions 2..6 (ISO/IEC 18004 table 7).
_CAPACITY_M = {2: 38, 3: 61, 4: 90, 5: 122, 6: 154}


def payload(rng: np.random.Generator, version: int) -> str:
    """Random alphanumeric text that segno encodes as a version-*version* code at level M."""
    length = int(rng.integers(_CAPACITY_M[version - 1] + 1, _CAPACITY_M[version] + 1))
    text = "".join(rng.choice(list(ALPHANUMERIC), length))
    code = segno.make(text, error="m", boost_error=False, micro=False)
    assert code.version == version, (length, code.version)
    return text


def random_style(rng: np.random.Generator, height: int) -> Style:
    """A style drawn from what a gate camera sees; pixel sizes scale with the frame height."""
    zoom = height / 480
    phone = rng.random() < 0.6
    size = rng.random()
    if size < 0.25:
        module_px = rng.uniform(2.0, 2.8)
    elif size < 0.8:
        module_px = rng.uniform(2.8, 6.0)
    else:
        module_px = rng.uniform(6.0, 11.0)
    return Style(
        medium="phone" if phone else "card",
        dark_mode=bool(phone and rng.random() < 0.25),
        module_px=float(module_px * zoom),
        tilt_deg=30.0,
        roll_deg=40.0,
        blur_sigma=float(rng.uniform(0.0, 1.2) * zoom),
        motion_px=float(rng.uniform(1.0, 4.0) * zoom) if rng.random() < 0.2 else 0.0,
        glare=float(rng.uniform(0.2, 0.6)) if phone and rng.random() < 0.5 else 0.0,
        noise_sigma=float(rng.uniform(2.0, 8.0)),
        jpeg_quality=int(rng.integers(70, 93)) if rng.random() < 0.5 else 0,
    )


def build(out_dir: Path = DEFAULT_DIR, *, quick: bool = False, seed: int = 2020) -> list[dict]:
    """Render the corpus into *out_dir* and return its manifest.

    :param quick: 60 frames with a code and 15 empty ones per size instead of 300 and 60.
    :return: one dict per frame: ``path``, ``width``, ``height``, ``text`` (``None`` for an
        empty frame), ``version`` and ``style``.
    """
    out_dir = Path(out_dir)
    coded, empty = (60, 15) if quick else (300, 60)
    kind = "quick" if quick else "full"
    manifest_path = out_dir / f"manifest-{kind}-v{CORPUS_VERSION}.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all(Path(entry["path"]).exists() for entry in manifest):
            return manifest
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    manifest = []
    for width, height in SIZES:
        for i in range(coded + empty):
            style = random_style(rng, height)
            version = text = None
            if i < coded:
                version = int(rng.integers(3, 7))
                text = payload(rng, version)
            elif i % 2:
                text = "x" * 8000  # a phone whose screen shows no code
            frame, corners = render_frame(text, style, rng, width, height)
            if version is not None and corners is None:
                raise RuntimeError(f"frame {i} at {width}x{height}: the code did not fit")
            name = f"{'q' if quick else 'f'}-{width}x{height}-{i:04d}.png"
            cv2.imwrite(str(out_dir / name), frame)
            manifest.append(
                {
                    "path": str(out_dir / name),
                    "width": width,
                    "height": height,
                    "text": text if version else None,
                    "version": version,
                    "corners": None if corners is None else corners.round(1).tolist(),
                    "style": asdict(style),
                }
            )
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest

"""A generated corpus of kiosk camera frames for the scanner benchmark, in two parts.

Nothing here is committed as images: :func:`build` renders the frames with the camera model
(:mod:`kiosk.sim.camera_model`: light, lens, sensor, ISP, JPEG) and writes them to
``bench/corpus/`` (git-ignored) with a manifest naming the text each frame holds.

Each frame with a code holds one pass of a kind, a quarter each:

``print``     a printed card, lit by the scene (ink 3-12 %, a hand's shadow on some, a
              laminated gloss on a few);
``screen``    a phone in light mode, its glass reflecting the surroundings;
``glare``     the same with a specular highlight of a lamp or the sky on the glass;
``inverted``  a phone in dark mode (light modules on a near-black screen).

The text is random base45-alphabet text making a QR code of version 3 to 6 at error
correction M, mostly 5 and 6 as a real pass is; modules of 2.2 to 12 pixels at 640x480, most
of them 3 to 4 (a phone at arm's length); light from a porch lamp at night to daylight shade,
some scenes backlit by a window; hands held still or moving during the exposure; cheap
cameras (soft lenses, some out of focus, shot and read noise, noise reduction, sharpening,
MJPEG on most). Some passes run out of the frame with the code at its edge. Empty frames show
the scene, a phone showing an app screen, or a card without a code.

The **tuning** part is what the scanner is tuned on. The **held-out** part is drawn with
another seed *and* from generator parameters that are themselves drawn at random around the
tuning ones (every range moved and stretched), so tuning to the first cannot fit the second.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np
import segno

from kiosk.sim.camera_model import Camera, Pose, Presentation, Scene, place, render, render_plane

ALPHANUMERIC = string.digits + string.ascii_uppercase + " $%*+-./:"
SIZES = ((640, 480), (1280, 720))
KINDS = ("print", "screen", "glare", "inverted")
DEFAULT_DIR = Path(__file__).resolve().parent / "corpus"
CORPUS_VERSION = 3
"""Bump when the renderer or the draw changes, so a stale corpus on disk is rebuilt."""

PARTS = {"tuning": 2020, "held-out": 1848}
"""The corpus parts and their seeds."""

# Alphanumeric capacity at error correction M for versions 2..6 (ISO/IEC 18004 table 7).
_CAPACITY_M = {2: 38, 3: 61, 4: 90, 5: 122, 6: 154}


def payload(rng: np.random.Generator, version: int) -> str:
    """Random alphanumeric text that segno encodes as a version-*version* code at level M."""
    length = int(rng.integers(_CAPACITY_M[version - 1] + 1, _CAPACITY_M[version] + 1))
    text = "".join(rng.choice(list(ALPHANUMERIC), length))
    code = segno.make(text, error="m", boost_error=False, micro=False)
    assert code.version == version, (length, code.version)
    return text


@dataclass(frozen=True)
class Prior:
    """The ranges frames are drawn from; pixel figures are at 640x480 (scaled with height).

    Each ``(lo, hi)`` is a uniform range unless named ``log_``; each ``p_`` a probability.
    """

    version_weights: tuple[float, float, float, float] = (0.1, 0.15, 0.3, 0.45)  # v3..v6
    module_tiny: tuple[float, float] = (2.2, 3.0)
    module_small: tuple[float, float] = (3.0, 4.0)
    module_mid: tuple[float, float] = (4.0, 7.0)
    module_large: tuple[float, float] = (7.0, 12.0)
    size_weights: tuple[float, float, float, float] = (0.15, 0.45, 0.3, 0.1)
    log_ambient_nits: tuple[float, float] = (8.0, 3000.0)
    p_backlight: float = 0.2
    backlight_share: tuple[float, float] = (0.1, 0.4)
    backlight_gain: tuple[float, float] = (2.0, 8.0)
    screen_factor: tuple[float, float] = (0.6, 1.6)  # screen nits = 15 sqrt(ambient) x this
    p_oled: float = 0.4
    lcd_contrast: tuple[float, float] = (600.0, 1500.0)
    veil: tuple[float, float] = (0.01, 0.05)
    p_lamp_glare: float = 0.5  # else a broad, dimmer reflection of the sky or a window
    lamp_glare: tuple[float, float] = (1.0, 4.0)
    lamp_glare_size: tuple[float, float] = (0.03, 0.1)
    sky_glare: tuple[float, float] = (0.2, 0.8)
    sky_glare_size: tuple[float, float] = (0.15, 0.35)
    p_card_gloss: float = 0.2
    card_gloss: tuple[float, float] = (0.3, 1.5)
    ink: tuple[float, float] = (0.03, 0.12)
    paper: tuple[float, float] = (0.6, 0.88)
    p_shadow: float = 0.4
    shadow: tuple[float, float] = (0.4, 0.9)
    screen_px_per_module: tuple[float, float] = (5.0, 20.0)
    tilt_deg: float = 35.0
    roll_deg: float = 45.0
    p_at_edge: float = 0.15
    p_moving: float = 0.1
    still_px_s: tuple[float, float] = (5.0, 40.0)
    moving_px_s: tuple[float, float] = (40.0, 120.0)
    lens_sigma: tuple[float, float] = (0.3, 0.8)
    p_defocus: float = 0.4
    defocus_px: tuple[float, float] = (0.3, 1.2)
    full_well: tuple[float, float] = (3000.0, 8000.0)
    read_noise: tuple[float, float] = (2.0, 5.0)
    ae_bias_sd_ev: float = 0.4
    denoise: tuple[float, float] = (0.3, 0.9)
    sharpen: tuple[float, float] = (0.0, 1.2)
    gamma: tuple[float, float] = (1.9, 2.4)
    p_mjpeg: float = 0.6
    jpeg_quality: tuple[float, float] = (55.0, 90.0)

    def drawn(self, rng: np.random.Generator) -> Prior:
        """A prior whose every range is moved and stretched at random (for the held-out part).

        A range (lo, hi) keeps its order; its centre moves by up to a quarter of its width
        either way and its width is scaled by 0.6 to 1.6; probabilities move by up to
        +-0.1; weights are redrawn around these. Bounds that physics sets (probabilities in
        0..1, sizes above 2 pixels per module) are kept.
        """
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_weights"):
                w = np.asarray(value) * rng.uniform(0.6, 1.6, len(value))
                changes[f.name] = tuple(float(x) for x in w / w.sum())
            elif f.name.startswith("p_"):
                changes[f.name] = float(np.clip(value + rng.uniform(-0.1, 0.1), 0.0, 1.0))
            elif isinstance(value, tuple):
                lo, hi = value
                if f.name.startswith("log_"):
                    lo, hi = np.log(lo), np.log(hi)
                mid, half = (lo + hi) / 2, (hi - lo) / 2
                mid += rng.uniform(-0.5, 0.5) * half
                half *= rng.uniform(0.6, 1.6)
                lo, hi = mid - half, mid + half
                if f.name.startswith("log_"):
                    lo, hi = np.exp(lo), np.exp(hi)
                floor, ceiling = _BOUNDS.get(f.name, (0.0, np.inf))
                if f.name.startswith("module_"):
                    floor = 2.0
                changes[f.name] = (
                    float(np.clip(lo, floor, ceiling)),
                    float(np.clip(hi, floor, ceiling)),
                )
            else:
                changes[f.name] = float(value * rng.uniform(0.8, 1.25))
        return replace(self, **changes)


TUNING_PRIOR = Prior()

_BOUNDS = {"jpeg_quality": (20.0, 95.0), "gamma": (1.6, 2.8), "paper": (0.3, 0.95)}
"""Where a drawn range must stay: what the quantity can physically be."""


def _u(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


@dataclass(frozen=True)
class Setup:
    """One person's pass in one place before one camera, as drawn from a :class:`Prior`."""

    kind: str | None
    text: str | None
    version: int | None
    scene: Scene
    presentation: Presentation | None  # None: an empty scene, no pass at all
    camera: Camera
    motion_px_s: tuple[float, float]
    at_edge: bool


def draw_setup(
    rng: np.random.Generator, prior: Prior, kind: str | None, width: int, height: int
) -> Setup:
    """Draw the scene, the camera, the pass of *kind* (``None``: no code) and its motion."""
    zoom = height / 480
    ambient = float(np.exp(rng.uniform(*np.log(prior.log_ambient_nits))))
    warm = rng.uniform(0.0, 0.3)
    scene = Scene(
        ambient_nits=ambient,
        backlight=_u(rng, prior.backlight_share) if rng.random() < prior.p_backlight else 0.0,
        backlight_gain=_u(rng, prior.backlight_gain),
        tint=(1.0 - warm, 1.0, 1.0 + warm),
        seed=int(rng.integers(1 << 31)),
    )
    camera = Camera(
        width=width,
        height=height,
        lens_sigma=_u(rng, prior.lens_sigma) * zoom,
        defocus_px=_u(rng, prior.defocus_px) * zoom if rng.random() < prior.p_defocus else 0.0,
        full_well=_u(rng, prior.full_well),
        read_noise=_u(rng, prior.read_noise),
        ae_bias_ev=float(rng.normal(0.0, prior.ae_bias_sd_ev)),
        denoise=_u(rng, prior.denoise),
        sharpen=_u(rng, prior.sharpen),
        gamma=_u(rng, prior.gamma),
        jpeg_quality=int(_u(rng, prior.jpeg_quality)) if rng.random() < prior.p_mjpeg else 0,
    )
    medium = "card" if kind == "print" else "phone"
    if kind is None:
        medium = ("none", "phone", "card")[int(rng.integers(0, 3))]
    band = int(rng.choice(4, p=np.asarray(prior.size_weights) / sum(prior.size_weights)))
    sizes = (prior.module_tiny, prior.module_small, prior.module_mid, prior.module_large)
    module_px = _u(rng, sizes[band]) * zoom
    glossy = medium == "card" and rng.random() < prior.p_card_gloss
    # a lamp's highlight is small and far brighter than the screen; the sky's or a window's
    # is broad and dimmer (a broad source has less luminance)
    lamp = rng.random() < prior.p_lamp_glare
    glare = _u(rng, prior.lamp_glare if lamp else prior.sky_glare)
    glare_size = _u(rng, prior.lamp_glare_size if lamp else prior.sky_glare_size)
    if kind != "glare":
        glare = _u(rng, prior.card_gloss) if glossy else 0.0
    pres = Presentation(
        medium=medium if medium != "none" else "phone",
        dark_mode=kind == "inverted" or (kind is None and rng.random() < 0.3),
        module_px=module_px,
        screen_nits=float(np.clip(15 * np.sqrt(ambient) * _u(rng, prior.screen_factor), 15, 800)),
        screen_contrast=1e5 if rng.random() < prior.p_oled else _u(rng, prior.lcd_contrast),
        ink=_u(rng, prior.ink),
        paper=_u(rng, prior.paper),
        shading=_u(rng, prior.shadow) if rng.random() < prior.p_shadow else 1.0,
        veil=_u(rng, prior.veil),
        glare=glare,
        glare_size=glare_size,
        screen_px_per_module=_u(rng, prior.screen_px_per_module),
        quiet_modules=4 if medium == "card" else int(rng.integers(2, 5)),
    )
    version = text = None
    if kind is not None:
        weights = np.asarray(prior.version_weights) / sum(prior.version_weights)
        version = int(rng.choice([3, 4, 5, 6], p=weights))
        text = payload(rng, version)
    speed = _u(rng, prior.moving_px_s if rng.random() < prior.p_moving else prior.still_px_s)
    angle = rng.uniform(0, 2 * np.pi)
    motion = (float(speed * zoom * np.cos(angle)), float(speed * zoom * np.sin(angle)))
    at_edge = bool(rng.random() < prior.p_at_edge)
    shown = None if medium == "none" else pres
    return Setup(kind, text, version, scene, shown, camera, motion, at_edge)


def draw_frame(
    rng: np.random.Generator, prior: Prior, kind: str | None, width: int, height: int
) -> dict:
    """Draw and render one frame of *kind* (``None`` for an empty frame).

    :return: ``frame`` (BGR uint8), ``corners`` (the code's, in the frame, or ``None``) and
        ``setup`` (:class:`Setup`).
    """
    setup = draw_setup(rng, prior, kind, width, height)
    pres = setup.presentation
    plane = pose = corners = None
    if pres is not None:
        homography = None
        while homography is None:
            plane = render_plane(setup.text, pres, rng, setup.scene.ambient_nits)
            homography = place(
                plane, pres.module_px, rng, width, height,
                tilt_deg=prior.tilt_deg, roll_deg=prior.roll_deg,
                edge_modules=rng.uniform(0.0, 1.0) if setup.at_edge else 1.5,
                hug_edge=setup.at_edge,
            )  # fmt: skip
            if homography is None:  # too large for the frame at this size: a little further
                pres = replace(pres, module_px=pres.module_px * 0.9)
        setup = replace(setup, presentation=pres)
        pose = Pose(homography, setup.motion_px_s)
        if setup.text is not None:
            corners = cv2.perspectiveTransform(plane.corners[None], homography)[0]
    frame, _ = render(plane, pose, setup.scene, setup.camera, rng)
    return {"frame": frame, "corners": corners, "setup": setup}


def _counts(quick: bool, height: int) -> tuple[int, int]:
    """(frames with a code per kind, empty frames) for one part at one size."""
    per_kind = 120 if height == 480 else 60
    if quick:
        per_kind //= 6
    return per_kind, per_kind


def part_prior(part: str, rng: np.random.Generator) -> Prior:
    """The prior for the next frames of *part*: the tuning prior, or a fresh random one."""
    return TUNING_PRIOR if part == "tuning" else TUNING_PRIOR.drawn(rng)


HELD_OUT_BATCH = 24
"""Held-out frames drawn from one random prior before the next is drawn (one 'site')."""


def build(out_dir: Path = DEFAULT_DIR, *, quick: bool = False) -> list[dict]:
    """Render both parts of the corpus into *out_dir* (unless there already) and return the
    manifest.

    :param quick: a sixth of the frames, for a smoke run.
    :return: one dict per frame: ``path``, ``part``, ``kind`` (``None`` for an empty frame),
        ``width``, ``height``, ``text`` (``None`` when empty), ``version``, ``corners``, and
        ``setup``: what was drawn (:class:`Setup` as a dict).
    """
    out_dir = Path(out_dir)
    label = "quick" if quick else "full"
    manifest_path = out_dir / f"manifest-{label}-v{CORPUS_VERSION}.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all(Path(entry["path"]).exists() for entry in manifest):
            return manifest
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for part, seed in PARTS.items():
        rng = np.random.default_rng(seed)
        prior_rng = np.random.default_rng(seed + 1)
        for width, height in SIZES:
            per_kind, empty = _counts(quick, height)
            order = [k for k in KINDS for _ in range(per_kind)] + [None] * empty
            prior = part_prior(part, prior_rng)
            for i, kind in enumerate(order):
                if part != "tuning" and i and i % HELD_OUT_BATCH == 0:
                    prior = part_prior(part, prior_rng)
                drawn = draw_frame(rng, prior, kind, width, height)
                setup = drawn["setup"]
                name = f"{label}-{part}-{width}x{height}-{i:04d}.png"
                cv2.imwrite(str(out_dir / name), drawn["frame"])
                corners = drawn["corners"]
                manifest.append(
                    {
                        "path": str(out_dir / name),
                        "part": part,
                        "kind": kind,
                        "width": width,
                        "height": height,
                        "text": setup.text,
                        "version": setup.version,
                        "corners": None if corners is None else corners.round(1).tolist(),
                        "setup": asdict(setup),
                    }
                )
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest

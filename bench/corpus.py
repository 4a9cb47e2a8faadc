"""A generated corpus of kiosk camera frames for the scanner benchmark, in two parts.

Nothing here is committed as images: :func:`build` renders the frames with the camera model
(:mod:`kiosk.sim.camera_model`: light, lens, sensor, ISP, JPEG) and writes them to
``bench/corpus/`` (git-ignored) with a manifest naming the text each frame holds.

Each frame with a code holds one pass of a kind, a quarter each:

``print``     the A6 card ``kiosk.cards`` prints, lit by the scene (ink 3-12 %, a hand's
              shadow on some, a laminated gloss on a few);
``screen``    a phone in light mode showing the pass, its glass reflecting the surroundings;
``glare``     the same with a specular highlight of a lamp or the sky on the glass;
``inverted``  a phone showing the code light on dark.

Empty frames show the scene, a phone showing an app screen, or a card without a code.

Why every range is what it is
-----------------------------

Every figure below is a physical quantity (millimetres, nits, seconds, electrons); a code's
size in pixels, its defocus and its motion blur follow from them, so a pass held further
away is smaller *and* further out of focus, as it is at the gate. Nothing here was chosen
for what a decoder reads.

The camera (640x480 at 15 fps): a Raspberry Pi Camera v2 (62 degrees across, a focal length
of 530 pixels at 640x480), v1.3 (54 degrees, 635 px), Module 3 in a 4:3 mode (about 53
degrees, 640 px, with autofocus) or a USB webcam (45 degrees for a 720p webcam's 4:3 crop,
775 px, up to 66 degrees for a wide module): ``hfov_deg`` 45-66. At 1280x720 the focal
length in pixels is 2x that of 640x480 for a 4:3 sensor (720p is its full width) and 1.5x
for a 16:9 sensor (640x480 is a crop of its middle): ``p_43_sensor``. A fixed-focus lens is
focused by maintenance where residents hold the pass (the maintenance page's focus figure),
to within a quarter (``focus_mm`` 120-190); a quarter of cameras focus themselves, to within
10 % (``af_error``). The blur disc follows the thin lens (:func:`~kiosk.sim.camera_model.
defocus_radius`) for an entrance pupil of 1.1-2.0 mm (3-4 mm lenses at f/2.0-2.9; the Pi v2
is 1.5 mm) or 2.4-2.7 mm (the Module 3's 4.74 mm f/1.8). Auto exposure opens the shutter up to
one frame (1/15 s) before it raises the gain (up to 16x), so at night the shutter is open for
1/15 s. Lens softness 0.3-0.8 px; a full well of 3000-8000 electrons and 2-5 electrons of read
noise per output pixel (a small-pixel sensor's own pixel: the Pi's binned and scaled 640x480
averages more light into each pixel, so this is the noisy end); the ISP's noise reduction,
sharpening and tone curve; MJPEG at quality 55-90 on 60 % (USB cameras at 640x480), none on
the rest (the Pi's own pipeline, or YUYV).

The pass: every resident or staff pass is a version 6 code at level M (126-154 characters;
see ``kiosk.passes``) and a temporary pass, which carries its registration id, is version 7
(about 168 characters): ``p_temporary`` 0.15 of passes, the others version 6. The card's code
is 70 mm square with its 4-module quiet zone (``kiosk.cards``): 1.43 mm a module at version 6,
1.32 mm at version 7. On a phone 62-76 mm wide the code with its quiet zone takes 45-100 % of
the width (``code_share``: the card's picture fitted to the screen is 67 %, a screenshot
zoomed to the code the whole width, a photograph of a temporary pass less): 0.57-1.55 mm a
module. The screen has 270-520 pixels an inch.

Where it is held: the resident screen asks for the pass about 15 cm in front of the camera.
That is where the widest of these cameras still resolves a phone's 0.9 mm modules at 3 pixels
(490 px x 0.9 mm / 150 mm), and where an A6 card's code still fits the narrowest camera's
frame (12 cm across at 775 px). People do not hold it exactly there: the distance is
log-normal about 15 cm, two people in three within 10-22 cm and 95 % within 7-33 cm
(``log_distance_mm``, the range of two standard deviations either side), never further than
60 cm (arm's length). A phone's module is then about 4 pixels at the median (3 and under
beyond about 20 cm with a wide camera), a card's about 6. A pass too large for the frame is
moved back until it fits, as a person does. At 15 cm the frame is only 12-20 cm wide and 9-15 cm
tall, so the pass often fills it and 15 % of codes come within a module of the frame's edge
(``p_at_edge``).

Motion: a hand holding a pass still drifts and trembles at 1-8 mm/s (4-40 px/s at 15 cm: at
1/15 s a streak of up to 3 px); in 15 % of frames the hand is still arriving or adjusting at
20-150 mm/s (``p_moving``; in a raise of 0.3-0.8 s that slows as it arrives, about two of the
frames that show the whole code before it settles). At night these are streaks of 4-50 px.

Light: white paper in the ambient light is 8 nits under a porch lamp at night (30 lux; the
kiosk's own screen adds as much on a pass held before it) to 3000 nits in daylight shade
under the kiosk's canopy (11,000 lux), log-uniform; a fifth of scenes have a window or the sky
behind the person, 2-8x brighter than white paper. A phone's automatic brightness gives
15 x sqrt(paper nits) x 0.6-1.6 (25-70 nits under the porch lamp, 800 at most in daylight);
a quarter of people have turned it off and show 60-500 nits at any hour
(``p_manual_brightness``), which at night is many times brighter than the scene. The glass
reflects 1-5 % of the surroundings over the whole screen; a lamp's highlight is the lamp's own
luminance times the glass's 4 %, brighter than the screen's white (1-4x is already clipped by
the sensor) and 3-10 % of the pass wide (a lamp of a few degrees seen in the glass); the sky's
or a window's is broad (15-35 %) and dimmer (0.2-0.8x). OLED screens (40 %) have no black
level to speak of; LCDs 600-1500:1. Card ink reflects 3-12 %, paper 60-88 %; 40 % of cards
have a hand's shadow across them, 20 % a laminated gloss.

Dark mode does not invert a picture: a phone in dark mode still shows the card's picture dark
on light, on a black surround. A code drawn light on dark comes from an app that draws its own
code that way or from the system's colour inversion, rarer than a quarter of phones; the kind
stays a quarter because the scanner's target is set per kind.

What is physical and still hard is kept and reported apart (see ``bench.scanner``): codes
under 3 pixels a module (a phone held beyond about 20 cm), and frames taken while the pass
is still moving.

Version 4 of the corpus (this one) replaced ranges of version 3 that were not physical: module
sizes drawn in pixels (most 3-4) unrelated to distance, defocus drawn apart from the distance
(40 % of frames, 0.3-1.2 px), QR versions 3-5 (no pass is), a card with a dark header band and
a margin of 1-5 modules, a phone's code always as wide as its screen, hand speed in pixels per
second whatever the distance, and one focal length for every camera.

The **tuning** part is what the scanner is tuned on. The **held-out** part is drawn with
another seed *and* from generator parameters that are themselves drawn at random around the
tuning ones (every range moved and stretched, a new draw every 24 frames: another site,
another camera, other people), so tuning to the first cannot fit the second.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np
import segno

from kiosk.sim.camera_model import (
    CARD_CODE_MM,
    Camera,
    Pose,
    Presentation,
    Scene,
    defocus_radius,
    place,
    render,
    render_plane,
)

ALPHANUMERIC = string.digits + string.ascii_uppercase + " $%*+-./:"
SIZES = ((640, 480), (1280, 720))
KINDS = ("print", "screen", "glare", "inverted")
DEFAULT_DIR = Path(__file__).resolve().parent / "corpus"
CORPUS_VERSION = 4
"""Bump when the renderer or the draw changes, so a stale corpus on disk is rebuilt."""

PARTS = {"tuning": 2020, "held-out": 583_117}
"""The corpus parts and their seeds (the held-out seed of version 4 is new: no frame of it
was looked at while the scanner was tuned)."""

# Alphanumeric capacity at error correction M for versions 2..7 (ISO/IEC 18004 table 7).
_CAPACITY_M = {2: 38, 3: 61, 4: 90, 5: 122, 6: 154, 7: 178}

QUIET_MODULES = 4
"""The quiet zone ``kiosk.cards`` and ``kiosk.temporary`` draw around a pass's code."""


def payload(rng: np.random.Generator, version: int) -> str:
    """Random alphanumeric text that segno encodes as a version-*version* code at level M
    (a pass token is base45 text: the same alphabet, the same mode)."""
    length = int(rng.integers(_CAPACITY_M[version - 1] + 1, _CAPACITY_M[version] + 1))
    text = "".join(rng.choice(list(ALPHANUMERIC), length))
    code = segno.make(text, error="m", boost_error=False, micro=False)
    assert code.version == version, (length, code.version)
    return text


@dataclass(frozen=True)
class Prior:
    """The ranges frames are drawn from, in physical units (see the module's docstring for
    why each is what it is).

    Each ``(lo, hi)`` is a uniform range unless named ``log_``: ``log_ambient_nits`` is
    uniform in its logarithm, ``log_distance_mm`` a log-normal whose two standard deviations
    either side of the median span the range. Each ``p_`` is a probability.
    """

    p_temporary: float = 0.15  # a temporary pass (version 7); else a resident's (version 6)
    hfov_deg: tuple[float, float] = (45.0, 66.0)  # across a 640x480 frame
    p_43_sensor: float = 0.5  # 1280x720 is the sensor's full width (else a 16:9 sensor)
    p_autofocus: float = 0.25
    aperture_mm: tuple[float, float] = (1.1, 2.0)  # a fixed-focus lens's entrance pupil
    af_aperture_mm: tuple[float, float] = (2.4, 2.7)
    focus_mm: tuple[float, float] = (120.0, 190.0)  # where maintenance focused it
    af_error: tuple[float, float] = (0.0, 0.1)  # autofocus's miss, a share of the distance
    log_distance_mm: tuple[float, float] = (67.0, 335.0)
    max_distance_mm: float = 600.0  # arm's length
    screen_width_mm: tuple[float, float] = (62.0, 76.0)
    code_share: tuple[float, float] = (0.45, 1.0)
    screen_ppi: tuple[float, float] = (270.0, 520.0)
    log_ambient_nits: tuple[float, float] = (8.0, 3000.0)
    p_backlight: float = 0.2
    backlight_share: tuple[float, float] = (0.1, 0.4)
    backlight_gain: tuple[float, float] = (2.0, 8.0)
    screen_factor: tuple[float, float] = (0.6, 1.6)  # auto: nits = 15 sqrt(ambient) x this
    p_manual_brightness: float = 0.25
    manual_nits: tuple[float, float] = (60.0, 500.0)
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
    tilt_deg: float = 35.0
    roll_deg: float = 45.0
    p_at_edge: float = 0.15
    p_moving: float = 0.15
    still_mm_s: tuple[float, float] = (1.0, 8.0)
    moving_mm_s: tuple[float, float] = (20.0, 150.0)
    lens_sigma: tuple[float, float] = (0.3, 0.8)
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
        +-0.1; other figures by 0.8 to 1.25 times. Bounds that physics sets (probabilities in
        0..1, what a lens, a screen or a hand can be) are kept.
        """
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_"):
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
                changes[f.name] = (
                    float(np.clip(lo, floor, ceiling)),
                    float(np.clip(hi, floor, ceiling)),
                )
            else:
                changes[f.name] = float(value * rng.uniform(0.8, 1.25))
        changes["max_distance_mm"] = self.max_distance_mm  # arm's length stays arm's length
        return replace(self, **changes)


TUNING_PRIOR = Prior()

_BOUNDS = {
    "jpeg_quality": (20.0, 95.0),
    "gamma": (1.6, 2.8),
    "paper": (0.3, 0.95),
    "hfov_deg": (35.0, 90.0),
    "aperture_mm": (0.8, 3.0),
    "af_aperture_mm": (0.8, 3.0),
    "focus_mm": (80.0, 400.0),
    "af_error": (0.0, 0.3),
    "log_distance_mm": (50.0, 600.0),
    "screen_width_mm": (55.0, 85.0),
    "code_share": (0.3, 1.0),
    "screen_ppi": (200.0, 600.0),
    "manual_nits": (20.0, 1000.0),
}
"""Where a drawn range must stay: what the quantity can physically be."""


def _u(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


@dataclass(frozen=True)
class Optics:
    """What turns a distance into pixels and blur for one camera.

    :param focal_px: focal length in frame pixels.
    :param aperture_mm: the entrance pupil's diameter in millimetres.
    :param focus_mm: where the lens is focused, in millimetres (``None``: autofocus, which
        finds the pass to within *af_error*).
    :param af_error: autofocus's miss, as a share of the distance.
    """

    focal_px: float
    aperture_mm: float
    focus_mm: float | None
    af_error: float = 0.0

    def defocus(self, distance_mm: float) -> float:
        """The blur disc's radius in frame pixels for a pass *distance_mm* away."""
        focus = self.focus_mm if self.focus_mm is not None else distance_mm * (1 + self.af_error)
        return defocus_radius(self.aperture_mm, self.focal_px, focus, distance_mm)


@dataclass(frozen=True)
class Setup:
    """One person's pass in one place before one camera, as drawn from a :class:`Prior`.

    :param module_mm: the code's module on the pass, in millimetres.
    :param distance_mm: how far from the camera the pass is held, in millimetres.
    :param motion_mm_s: the pass's speed across the view during the exposure, (x, y) mm/s.
    :param moving: drawn as a hand still arriving or adjusting (else held still).
    """

    kind: str | None
    text: str | None
    version: int | None
    scene: Scene
    presentation: Presentation | None  # None: an empty scene, no pass at all
    camera: Camera
    optics: Optics
    module_mm: float
    distance_mm: float
    motion_mm_s: tuple[float, float]
    moving: bool
    at_edge: bool

    @property
    def motion_px_s(self) -> tuple[float, float]:
        """The pass's image speed in frame pixels per second."""
        scale = self.optics.focal_px / self.distance_mm
        return (self.motion_mm_s[0] * scale, self.motion_mm_s[1] * scale)

    def at(self, distance_mm: float) -> Setup:
        """The same pass held *distance_mm* away: module size and defocus follow."""
        camera = replace(self.camera, defocus_px=self.optics.defocus(distance_mm))
        pres = self.presentation
        if pres is not None:
            pres = replace(pres, module_px=self.optics.focal_px * self.module_mm / distance_mm)
        return replace(self, presentation=pres, camera=camera, distance_mm=distance_mm)


def _focal_px(hfov_deg: float, width: int, height: int, sensor_43: bool) -> float:
    """Focal length in pixels of a frame *width* x *height* for a lens that spans
    *hfov_deg* across a 640x480 frame of the same camera."""
    f640 = 320.0 / np.tan(np.radians(hfov_deg) / 2)
    if abs(width / height - 4 / 3) < 0.01 or sensor_43:
        return float(f640 * width / 640)  # the same field across the frame's width
    return float(f640 * height / 480)  # a 16:9 sensor: 640x480 is a crop of its middle


def draw_setup(
    rng: np.random.Generator, prior: Prior, kind: str | None, width: int, height: int
) -> Setup:
    """Draw the scene, the camera, the pass of *kind* (``None``: no code), where it is held
    and how it moves."""
    hfov = _u(rng, prior.hfov_deg)
    focal = _focal_px(hfov, width, height, bool(rng.random() < prior.p_43_sensor))
    zoom = focal / (320.0 / np.tan(np.radians(hfov) / 2))  # this frame's pixels per 640x480's
    if rng.random() < prior.p_autofocus:
        optics = Optics(focal, _u(rng, prior.af_aperture_mm), None,
                        _u(rng, prior.af_error) * (1 if rng.random() < 0.5 else -1))  # fmt: skip
    else:
        optics = Optics(focal, _u(rng, prior.aperture_mm), _u(rng, prior.focus_mm))
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
        full_well=_u(rng, prior.full_well),
        read_noise=_u(rng, prior.read_noise),
        ae_bias_ev=float(rng.normal(0.0, prior.ae_bias_sd_ev)),
        denoise=_u(rng, prior.denoise),
        sharpen=_u(rng, prior.sharpen),
        gamma=_u(rng, prior.gamma),
        jpeg_quality=int(_u(rng, prior.jpeg_quality)) if rng.random() < prior.p_mjpeg else 0,
        focal_px=focal,
    )
    medium = "card" if kind == "print" else "phone"
    if kind is None:
        medium = ("none", "phone", "card")[int(rng.integers(0, 3))]
    version = 7 if rng.random() < prior.p_temporary else 6
    modules = 17 + 4 * version + 2 * QUIET_MODULES  # across the code with its quiet zone
    share = _u(rng, prior.code_share)
    if medium == "card":
        module_mm = CARD_CODE_MM / modules
    else:
        module_mm = _u(rng, prior.screen_width_mm) * share / modules
    lo, hi = np.log(prior.log_distance_mm)
    distance = float(np.exp(rng.normal((lo + hi) / 2, (hi - lo) / 4)))
    distance = min(max(distance, 50.0), prior.max_distance_mm)
    glossy = medium == "card" and rng.random() < prior.p_card_gloss
    # a lamp's highlight is small and far brighter than the screen; the sky's or a window's
    # is broad and dimmer (a broad source has less luminance)
    lamp = rng.random() < prior.p_lamp_glare
    glare = _u(rng, prior.lamp_glare if lamp else prior.sky_glare)
    glare_size = _u(rng, prior.lamp_glare_size if lamp else prior.sky_glare_size)
    if kind != "glare":
        glare = _u(rng, prior.card_gloss) if glossy else 0.0
    if rng.random() < prior.p_manual_brightness:
        screen_nits = _u(rng, prior.manual_nits)
    else:
        screen_nits = float(np.clip(15 * np.sqrt(ambient) * _u(rng, prior.screen_factor), 15, 800))
    pres = Presentation(
        medium=medium if medium != "none" else "phone",
        dark_mode=kind == "inverted" or (kind is None and rng.random() < 0.3),
        module_px=focal * module_mm / distance,
        screen_nits=screen_nits,
        screen_contrast=1e5 if rng.random() < prior.p_oled else _u(rng, prior.lcd_contrast),
        ink=_u(rng, prior.ink),
        paper=_u(rng, prior.paper),
        shading=_u(rng, prior.shadow) if rng.random() < prior.p_shadow else 1.0,
        veil=_u(rng, prior.veil),
        glare=glare,
        glare_size=glare_size,
        screen_px_per_module=module_mm * _u(rng, prior.screen_ppi) / 25.4,
        quiet_modules=QUIET_MODULES if medium == "card" else int(rng.integers(2, 5)),
        code_share=share,
    )
    text = None
    if kind is not None:
        text = payload(rng, version)
    else:
        version = None
    moving = bool(rng.random() < prior.p_moving)
    speed = _u(rng, prior.moving_mm_s if moving else prior.still_mm_s)
    angle = rng.uniform(0, 2 * np.pi)
    motion = (float(speed * np.cos(angle)), float(speed * np.sin(angle)))
    at_edge = bool(rng.random() < prior.p_at_edge)
    shown = None if medium == "none" else pres
    setup = Setup(kind, text, version, scene, shown, camera, optics, module_mm, distance,
                  motion, moving, at_edge)  # fmt: skip
    return setup.at(distance)


def draw_frame(
    rng: np.random.Generator, prior: Prior, kind: str | None, width: int, height: int
) -> dict:
    """Draw and render one frame of *kind* (``None`` for an empty frame).

    :return: ``frame`` (BGR uint8), ``corners`` (the code's, in the frame, or ``None``),
        ``setup`` (:class:`Setup`, at the distance the pass ended up at) and ``exposure``.
    """
    setup = draw_setup(rng, prior, kind, width, height)
    plane = pose = corners = None
    if setup.presentation is not None:
        homography = None
        while homography is None:
            pres = setup.presentation
            plane = render_plane(setup.text, pres, rng, setup.scene.ambient_nits)
            homography = place(
                plane, pres.module_px, rng, width, height,
                tilt_deg=prior.tilt_deg, roll_deg=prior.roll_deg,
                edge_modules=rng.uniform(0.0, 1.0) if setup.at_edge else 1.5,
                hug_edge=setup.at_edge, focal=setup.camera.focal,
            )  # fmt: skip
            if homography is None:  # too large for the frame: held a little further back
                setup = setup.at(setup.distance_mm / 0.9)
        pose = Pose(homography, setup.motion_px_s)
        if setup.text is not None:
            corners = cv2.perspectiveTransform(plane.corners[None], homography)[0]
    frame, exposure = render(plane, pose, setup.scene, setup.camera, rng)
    return {"frame": frame, "corners": corners, "setup": setup, "exposure": exposure}


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
        ``width``, ``height``, ``text`` (``None`` when empty), ``version``, ``corners``,
        ``module_px`` (at the code's centre), ``distance_mm``, ``moving``, ``streak_px`` (how
        far the pass moved while the shutter was open), ``defocus_px`` (the blur disc's
        radius), ``shutter_s``, and ``setup``: what was drawn (:class:`Setup` as a dict).
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
                shutter = drawn["exposure"].shutter_s
                pres = setup.presentation
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
                        "module_px": None if pres is None else round(pres.module_px, 2),
                        "distance_mm": round(setup.distance_mm, 1),
                        "moving": setup.moving,
                        "streak_px": round(float(np.hypot(*setup.motion_px_s)) * shutter, 2),
                        "defocus_px": round(setup.camera.defocus_px, 2),
                        "shutter_s": round(shutter, 5),
                        "setup": asdict(setup),
                    }
                )
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest

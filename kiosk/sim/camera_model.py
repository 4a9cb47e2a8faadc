"""What a cheap gate camera makes of a pass: a scene rendered in light, through lens and sensor.

:mod:`kiosk.sim.camera` draws frames directly in grey levels, which is quick and enough for
the demo. This module is slower (tens of milliseconds a frame) and follows the light instead,
for the benchmark corpus, the per-person clips and the scanner's hard-case tests:

1. **Scene**, in luminance (cd/m², "nits"): a wall and clutter lit by the ambient light, at
   times a bright window or sky behind the person; a printed card reflects the ambient light
   (ink is not black: 3-12 % reflectance), a phone screen emits its own (80-600 nits, dark
   mode light modules on a near-black screen) and its glass reflects the surroundings (a veil
   over the whole screen, and for some a specular highlight of a lamp or the sky).
2. **Optics**, on a twice-finer grid: lens softness (Gaussian), defocus (a disc), and motion
   blur along the hand's motion for as long as the shutter is open; the screen's pixel grid
   is drawn where the camera can resolve it, so moiré comes out of the sampling by itself.
3. **Sensor**: each pixel integrates its area (area down-sampling); auto exposure sets the
   shutter (at most one frame interval) and then the analogue gain from the metered scene
   (centre weighted, off by a fraction of a stop, and lagging in clips); photon shot noise
   and read noise in electrons; saturation; an RGGB Bayer mosaic.
4. **ISP**: bilinear demosaicing, grey-world white balance, noise reduction that grows with
   the gain, unsharp-mask sharpening, a gamma tone curve, 8 bits, and for MJPEG cameras JPEG
   compression with 4:2:0 chroma.

Every parameter is physical (nits, pixels, electrons, seconds); nothing here knows which
decoder reads what.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from kiosk.sim.camera import qr_matrix

__all__ = [
    "Camera",
    "Exposure",
    "Pose",
    "Presentation",
    "Scene",
    "auto_exposure",
    "code_in_view",
    "defocus_radius",
    "place",
    "plane_light",
    "render",
    "render_plane",
    "wall_light",
]

CARD_MM = (105.0, 148.0)
"""A printed pass card, width and height in millimetres (A6, as ``kiosk.cards`` prints it)."""

CARD_CODE_MM = 70.0
"""The card's code with its 4-module quiet zone, in millimetres (``kiosk.cards.QR_MM``)."""

CARD_CODE_TOP_MM = 33.0
"""Where the code's quiet zone starts below the card's top edge, in millimetres."""

_CARD_LINES = (
    (16.0, 7.0, "RESIDENT PASS"),
    (28.0, 5.0, "Household 7-1201"),
    (111.0, 4.0, "Pass P0007120101"),
    (118.0, 3.2, "Valid 2020-02-01 to 2020-05-01"),
    (127.0, 3.2, "Show the QR code, look at the"),
    (133.0, 3.2, "thermometer, then close the gate"),
)
"""The card's printed lines: baseline and capital height in millimetres, words."""

SUPERSAMPLE = 2
"""The optics are rendered on a grid this many times finer than the sensor's."""

METER_K = 11.0
"""Exposure constant: luminance (nits) x shutter (s) x gain / K = share of full scale."""


@dataclass(frozen=True)
class Scene:
    """The place in front of the camera.

    :param ambient_nits: luminance of white paper in the ambient light (10 at night under a
        porch lamp, 100-300 indoors or at dusk, 1000-3000 in daylight shade).
    :param backlight: share of the frame taken by a bright window or sky behind the person
        (0 for none); it is *backlight_gain* times brighter than white paper.
    :param backlight_gain: see *backlight*.
    :param tint: the light's colour as (B, G, R) gains (a warm lamp is R > B).
    :param seed: seed for the wall's texture and clutter.
    """

    ambient_nits: float = 150.0
    backlight: float = 0.0
    backlight_gain: float = 4.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    seed: int = 0


@dataclass(frozen=True)
class Presentation:
    """The pass as the resident holds it.

    :param medium: ``"phone"`` or ``"card"``.
    :param dark_mode: light modules on a dark screen (phones only).
    :param module_px: one module's size in frame pixels at the code's centre.
    :param screen_nits: the phone screen's white (auto brightness follows the ambient light).
    :param screen_contrast: white to black of the screen (an LCD 800-1500, OLED near 10^5).
    :param ink: the card's ink reflectance (0.03 laser toner to 0.12 a tired inkjet).
    :param paper: the card's paper reflectance.
    :param shading: the darkest share of the light across the card (a hand's shadow), 1 for
        even light.
    :param veil: the screen glass's reflection of the surroundings, as a share of the
        ambient white (0.02-0.08: glass reflects about 4 %).
    :param glare: peak of a specular highlight on the glass (or a laminated card), in units
        of the screen's white (or the paper's); 0 for none.
    :param glare_size: the highlight's radius as a share of the pass's width.
    :param screen_px_per_module: the screen's pixels across one module (phones).
    :param quiet_modules: the quiet zone around the code on the pass, in modules.
    :param code_share: the code with its quiet zone as a share of the phone screen's width
        (1.0: a screenshot cropped to the code and zoomed to fill the screen; about 0.67: the
        A6 card's picture fitted to the screen). A card is drawn as ``kiosk.cards`` prints it.
    """

    medium: str = "phone"
    dark_mode: bool = False
    module_px: float = 4.0
    screen_nits: float = 250.0
    screen_contrast: float = 1000.0
    ink: float = 0.06
    paper: float = 0.8
    shading: float = 1.0
    veil: float = 0.04
    glare: float = 0.0
    glare_size: float = 0.15
    screen_px_per_module: float = 12.0
    quiet_modules: int = 3
    code_share: float = 1.0


@dataclass(frozen=True)
class Camera:
    """The camera and its image processing.

    :param width: frame width in pixels.
    :param height: frame height in pixels.
    :param fps: frame rate; the longest shutter is one frame interval.
    :param lens_sigma: lens softness, Gaussian sigma in frame pixels.
    :param defocus_px: radius of the defocus disc in frame pixels (0 in focus).
    :param full_well: electrons a pixel holds at base gain.
    :param read_noise: read noise in electrons.
    :param max_gain: the highest analogue gain auto exposure uses.
    :param ae_bias_ev: how far auto exposure is off its target, in stops (+ brighter).
    :param denoise: the ISP's noise reduction, Gaussian sigma in pixels at gain 8 (less at
        lower gain).
    :param sharpen: the ISP's unsharp-mask amount (0 none, 1 strong).
    :param gamma: the tone curve's exponent (output = input ** (1 / gamma)).
    :param jpeg_quality: MJPEG quality, 0 for an uncompressed (YUYV) camera.
    :param focal_px: the lens's focal length in frame pixels (``width / 2 / tan(hfov / 2)``:
        about 530 for a Raspberry Pi Camera v2 at 640x480, 775 for a 45-degree USB webcam);
        ``None`` for 1.1 x *width* (a 49-degree horizontal field of view).
    """

    width: int = 640
    height: int = 480
    fps: float = 15.0
    lens_sigma: float = 0.5
    defocus_px: float = 0.0
    full_well: float = 6000.0
    read_noise: float = 3.0
    max_gain: float = 16.0
    ae_bias_ev: float = 0.0
    denoise: float = 0.6
    sharpen: float = 0.5
    gamma: float = 2.2
    jpeg_quality: int = 80
    focal_px: float | None = None

    @property
    def focal(self) -> float:
        """The focal length in frame pixels (see *focal_px*)."""
        return self.focal_px if self.focal_px is not None else 1.1 * self.width


@dataclass(frozen=True)
class Pose:
    """Where the pass is: a homography from the pass plane to the frame, and its motion.

    :param homography: 3x3, plane pixels to frame pixels.
    :param motion_px_s: image speed of the pass during the exposure, (dx, dy) in frame
        pixels per second.
    :param glare_shift: how far the specular highlight has moved on the pass, in plane
        pixels, since the pose it was drawn for.
    """

    homography: np.ndarray
    motion_px_s: tuple[float, float] = (0.0, 0.0)
    glare_shift: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Exposure:
    """What auto exposure chose for one frame.

    :param shutter_s: exposure time in seconds.
    :param gain: analogue gain.
    :param metered_nits: the metered (centre-weighted) scene luminance it aimed for.
    """

    shutter_s: float
    gain: float
    metered_nits: float


@dataclass
class Plane:
    """A pass drawn flat, in nits, with where its code is.

    :param light: luminance in nits (float32, plane pixels).
    :param corners: the code's module corners (4x2, plane pixels).
    :param px: plane pixels per module.
    :param glare: the specular highlight, ((x, y) centre, radius, peak nits), or ``None``;
        :func:`plane_light` adds it where the pass's angle puts it.
    """

    light: np.ndarray
    corners: np.ndarray
    px: int
    glare: tuple[tuple[float, float], float, float] | None = None


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, value: float,
          thickness: int) -> None:  # fmt: skip
    """Print *text* into the float image *image* at luminance *value*, anti-aliased."""
    mask = np.zeros(image.shape, np.uint8)
    cv2.putText(mask, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
    alpha = mask.astype(np.float32) / 255.0
    image *= 1.0 - alpha
    image += alpha * value


def wall_light(scene: Scene, width: int, height: int) -> np.ndarray:
    """The scene behind the pass in nits (float32, *height* x *width*; render passes the
    fine grid's size)."""
    rng = np.random.default_rng(scene.seed)
    refl = rng.uniform(0.15, 0.45)
    low = rng.normal(0.0, 0.06, (max(2, height // 60), max(2, width // 60))).astype(np.float32)
    wall = refl + cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 0.02, (height // 4, width // 4)).astype(np.float32)
    wall += cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)
    wall *= np.linspace(1.0 - rng.uniform(0, 0.3), 1.0, width, dtype=np.float32)[None, :]
    for _ in range(int(rng.integers(1, 5))):  # door frame, a box, a notice
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        cv2.rectangle(wall, (x0, y0), (x1, y1), float(rng.uniform(0.04, 0.7)), -1)
    for _ in range(int(rng.integers(0, 4))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(wall, p0, p1, float(rng.uniform(0.03, 0.8)), int(rng.integers(2, 12)))
    if rng.random() < 0.5:  # printed notices: text the region search sees and must drop
        for _ in range(int(rng.integers(1, 4))):
            org = (int(rng.integers(0, width - 80)), int(rng.integers(20, height)))
            _text(wall, "NOTICE 1203 B", org, float(rng.uniform(0.4, 1.2)), 0.04,
                  int(rng.integers(1, 3)))  # fmt: skip
    wall = np.clip(wall, 0.02, 0.95) * scene.ambient_nits
    if scene.backlight > 0:  # a window or the sky on one side
        side = int(rng.integers(0, 4))
        depth = scene.backlight
        mask = np.zeros((height, width), np.float32)
        if side == 0:
            mask[:, : int(width * depth)] = 1
        elif side == 1:
            mask[:, int(width * (1 - depth)) :] = 1
        elif side == 2:
            mask[: int(height * depth * 1.5), :] = 1
        else:
            mask[: int(height * depth), : int(width * 0.7)] = 1
        mask = cv2.GaussianBlur(mask, (0, 0), 3.0)
        sky = scene.ambient_nits * scene.backlight_gain
        wall = wall * (1 - mask) + sky * mask
    return wall


def render_plane(text: str | None, pres: Presentation, rng: np.random.Generator,
                 ambient_nits: float) -> Plane:  # fmt: skip
    """The pass (phone or card) drawn flat in nits, about 3 plane pixels per frame pixel.

    :param text: the code's text; ``None`` draws the pass without a code (an app's screen,
        the back of a card) for empty frames.
    """
    matrix = qr_matrix(text) if text is not None else None
    n = matrix.shape[0] if matrix is not None else 29
    px = max(4, int(np.ceil(pres.module_px * SUPERSAMPLE * 1.5)))
    quiet = pres.quiet_modules
    code_px = n * px
    if pres.medium == "phone":
        screen_w = int((n + 2 * quiet) * px / min(1.0, max(pres.code_share, 0.2)))
        screen_h = int(screen_w * rng.uniform(1.6, 2.1))
        bezel = max(2, int(screen_w * 0.04))
        height, width = screen_h + 2 * bezel, screen_w + 2 * bezel
        white = pres.screen_nits
        black = white / pres.screen_contrast
        if pres.dark_mode:
            bg = white * rng.uniform(0.004, 0.02) + black  # #121212 to #242424
            fg = white * rng.uniform(0.6, 0.9)  # #D0D0D0 to #F0F0F0
        else:
            bg = white * rng.uniform(0.85, 1.0)
            fg = black
        light = np.full((height, width), 0.03 * ambient_nits, np.float32)  # bezel
        light[bezel : bezel + screen_h, bezel : bezel + screen_w] = bg
        x0 = bezel + (screen_w - code_px) // 2
        y0 = bezel + int((screen_h - code_px) * rng.uniform(0.35, 0.6))
        bar = max(4, screen_h // 10)  # the app's title bar
        light[bezel : bezel + bar, bezel : bezel + screen_w] = fg * 0.5 + bg * 0.5
        if matrix is None:  # an app screen with lines of text and a button
            for i in range(int(rng.integers(3, 9))):
                y = bezel + bar + (i + 1) * max(6, screen_h // 12)
                if y < bezel + screen_h - 4:
                    x1 = bezel + int(screen_w * rng.uniform(0.3, 0.9))
                    cv2.line(light, (bezel + 6, y), (x1, y), float(fg), max(1, px // 3))
    else:  # the A6 card of kiosk.cards: 105 x 148 mm, the code 70 mm with its quiet zone
        mm = (n + 2 * quiet) * px / CARD_CODE_MM  # plane pixels per millimetre
        width, height = int(CARD_MM[0] * mm), int(CARD_MM[1] * mm)
        white = pres.paper * ambient_nits
        ink = pres.ink * ambient_nits
        light = np.full((height, width), white, np.float32)
        for y_mm, size_mm, words in _CARD_LINES:
            scale = size_mm * mm / 22.0  # Hershey simplex: capitals about 22 units tall
            _text(light, words, (int(12 * mm), int(y_mm * mm)), scale, float(ink),
                  max(1, int(scale * 2)))  # fmt: skip
        x0 = int((CARD_MM[0] - CARD_CODE_MM) / 2 * mm) + quiet * px
        y0 = int(CARD_CODE_TOP_MM * mm) + quiet * px
        bg, fg = white, ink
    if matrix is not None:
        modules = np.where(matrix, fg, bg).astype(np.float32)
        region = light[y0 : y0 + code_px, x0 : x0 + code_px]
        block = cv2.resize(modules, (code_px, code_px), interpolation=cv2.INTER_NEAREST)
        region[:] = block
    if pres.medium == "phone" and pres.screen_px_per_module > 0:
        # the screen's pixel grid, drawn only where the fine grid resolves it; finer, the
        # camera sees its average, which *screen_nits* already is
        pitch = px / pres.screen_px_per_module
        if pitch >= 3:
            yy, xx = np.mgrid[0:height, 0:width]
            gaps = ((xx % pitch) < 0.2 * pitch) | ((yy % pitch) < 0.15 * pitch)
            screen = np.zeros((height, width), bool)
            screen[bezel : bezel + screen_h, bezel : bezel + screen_w] = True
            light[gaps & screen] *= 0.55
    if pres.medium == "card" and pres.shading < 1:  # a shadow across the card
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height) * 0.5 + 0.5
        light *= pres.shading + (1 - pres.shading) * np.clip(ramp, 0, 1)
    if pres.medium == "phone":
        light += pres.veil * ambient_nits * np.linspace(0.7, 1.3, height, dtype=np.float32)[:, None]
    glare = None
    if pres.glare > 0:
        peak = pres.glare * (pres.screen_nits if pres.medium == "phone" else white)
        centre = (rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height)
        glare = (centre, pres.glare_size * width, peak)
    corners = np.float32(
        [[x0, y0], [x0 + code_px, y0], [x0 + code_px, y0 + code_px], [x0, y0 + code_px]]
    )
    return Plane(light, corners, px, glare)


def plane_light(plane: Plane, glare_shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The plane's luminance with its specular highlight, moved by *glare_shift* (plane
    pixels): a highlight moves across the glass as the pass turns."""
    if plane.glare is None:
        return plane.light
    (cx, cy), r, peak = plane.glare
    cx, cy = cx + glare_shift[0], cy + glare_shift[1]
    h, w = plane.light.shape
    yy, xx = np.ogrid[0:h, 0:w]
    spot = np.exp(-((xx - cx) ** 2).astype(np.float32) / (2 * r * r)) * np.exp(
        -((yy - cy) ** 2).astype(np.float32) / (2 * r * r)
    )
    return plane.light + peak * spot


def place(
    plane: Plane,
    module_px: float,
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    tilt_deg: float = 25.0,
    roll_deg: float = 30.0,
    edge_modules: float = 1.0,
    hug_edge: bool = False,
    centre: tuple[float, float] | None = None,
    rotation: tuple[float, float, float] | None = None,
    focal: float | None = None,
) -> np.ndarray | None:
    """A homography (plane -> frame) that shows the code at *module_px*, tilted and turned.

    :param edge_modules: how close to the frame's edge the code may come, in modules (0 lets
        the quiet zone and the pass itself run out of the frame).
    :param hug_edge: put the code as close to one edge as *edge_modules* allows.
    :param centre: the code's centre in the frame; drawn where the code fits when ``None``.
    :param rotation: (tilt x, tilt y, roll) in radians; drawn when ``None``.
    :param focal: the camera's focal length in frame pixels (:attr:`Camera.focal`); 1.1 x
        *width* when ``None``.
    :return: ``None`` when the code cannot fit at that size.
    """
    if rotation is None:
        tilt = np.radians(rng.uniform(0, tilt_deg))
        direction = rng.uniform(0, 2 * np.pi)
        rotation = (
            tilt * np.cos(direction),
            tilt * np.sin(direction),
            np.radians(rng.uniform(-roll_deg, roll_deg)),
        )
    ax, ay, az = rotation
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    focal = 1.1 * width if focal is None else focal
    mid = plane.corners.mean(axis=0)
    scale = module_px / plane.px
    ph, pw = plane.light.shape

    def project(points: np.ndarray, offset: np.ndarray) -> np.ndarray:
        flat = np.column_stack([(points - mid) * scale, np.zeros(len(points))])
        cam = flat @ rot.T + np.array([0.0, 0.0, focal])
        return cam[:, :2] * focal / cam[:, 2:3] + offset

    code0 = project(plane.corners, np.zeros(2))
    if centre is None:
        gap = edge_modules * module_px
        lo, hi = code0.min(axis=0), code0.max(axis=0)
        room_x = (gap - lo[0], width - gap - hi[0])
        room_y = (gap - lo[1], height - gap - hi[1])
        if room_x[0] > room_x[1] or room_y[0] > room_y[1]:
            return None
        offset = np.array([rng.uniform(*room_x), rng.uniform(*room_y)])
        if hug_edge:  # against one edge of the frame: the pass runs out of it
            axis = int(rng.integers(0, 2))
            offset[axis] = (room_x, room_y)[axis][int(rng.integers(0, 2))]
    else:
        offset = np.asarray(centre, dtype=float)
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    return cv2.getPerspectiveTransform(src, np.float32(project(src, offset)))


def code_in_view(
    plane: Plane, homography: np.ndarray, width: int, height: int
) -> np.ndarray | None:
    """The code's corners in the frame (4x2) when all of the code is inside it, else ``None``."""
    corners = cv2.perspectiveTransform(plane.corners[None], homography)[0]
    inside = (corners[:, 0] >= 0) & (corners[:, 0] <= width) & (corners[:, 1] >= 0)
    return corners if bool(np.all(inside & (corners[:, 1] <= height))) else None


def defocus_radius(aperture_mm: float, focal_px: float, focus_mm: float,
                   distance_mm: float) -> float:  # fmt: skip
    """The radius, in frame pixels, of the blur disc of a point *distance_mm* from a lens
    focused at *focus_mm* (thin lens, both distances far beyond the focal length).

    The disc's diameter on the sensor is ``A f |d - s| / (d (s - f))`` for an entrance pupil
    of diameter ``A`` (focal length over f-number: 1.5 mm for a Pi Camera v2's 3.04 mm f/2.0);
    in pixels, ``f`` over the pixel pitch is *focal_px*. Against a module of ``m`` mm, which
    is ``focal_px m / d`` pixels, the disc is ``A |d - s| / (s m)`` modules wide whatever the
    camera's resolution: a phone's 1 mm modules held 10 cm beyond a 15 cm focus are blurred
    over a whole module.
    """
    return 0.5 * aperture_mm * focal_px * abs(distance_mm - focus_mm) / (distance_mm * focus_mm)


def _metered(light: np.ndarray) -> float:
    """Centre-weighted mean luminance, as auto exposure meters it."""
    small = cv2.resize(light, (16, 12), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:12, 0:16].astype(np.float32)
    weight = np.exp(-(((xx - 7.5) / 6) ** 2 + ((yy - 5.5) / 4.5) ** 2))
    return float((small * weight).sum() / weight.sum())


def auto_exposure(metered_nits: float, camera: Camera) -> Exposure:
    """Shutter first (up to one frame interval), then gain, to put the metered level at 18 %.

    :param metered_nits: the scene luminance to expose for (see :func:`render`'s
        *metered_nits* for clips, where exposure lags the scene).
    """
    target = 0.18 * 2.0**camera.ae_bias_ev
    product = target * METER_K / max(metered_nits, 1e-3)  # shutter x gain
    shutter = min(product, 1.0 / camera.fps)
    gain = float(np.clip(product / shutter, 1.0, camera.max_gain))
    return Exposure(shutter, gain, metered_nits)


def _line_kernel(dx: float, dy: float) -> np.ndarray | None:
    length = float(np.hypot(dx, dy))
    if length < 1.0:
        return None
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    steps = max(2, int(np.ceil(length * 2)))
    for t in np.linspace(-0.5, 0.5, steps):
        kernel[round(c + t * dy), round(c + t * dx)] += 1.0
    return kernel / kernel.sum()


def _disc_kernel(radius: float) -> np.ndarray:
    size = int(np.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - size // 2
    # anti-aliased edge: coverage falls from 1 to 0 over one pixel at the rim
    kernel = np.clip(radius + 0.5 - np.hypot(xx, yy), 0.0, 1.0)
    return kernel / kernel.sum()


def render(
    plane: Plane | None,
    pose: Pose | None,
    scene: Scene,
    camera: Camera,
    rng: np.random.Generator,
    *,
    metered_nits: float | None = None,
    wall: np.ndarray | None = None,
) -> tuple[np.ndarray, Exposure]:
    """One camera frame (BGR uint8) of *plane* placed by *pose* in *scene*.

    :param plane: the pass, or ``None`` for an empty scene.
    :param metered_nits: what auto exposure exposes for; the frame's own metered level when
        ``None`` (a camera that has settled). A clip passes a lagging value.
    :param wall: the scene's background from an earlier call (fine grid, nits), to reuse.
    :return: (frame, the exposure used; its ``metered_nits`` is this frame's own metered
        level, for a clip's auto exposure to follow).
    """
    s = SUPERSAMPLE
    fw, fh = camera.width * s, camera.height * s
    base = wall_light(scene, fw, fh) if wall is None else wall
    light = base
    warped = mask = None
    if plane is not None and pose is not None:
        h = np.diag([s, s, 1.0]) @ pose.homography
        lit = plane_light(plane, pose.glare_shift)
        mask = cv2.warpPerspective(np.ones_like(lit), h, (fw, fh), flags=cv2.INTER_LINEAR)
        warped = cv2.warpPerspective(lit, h, (fw, fh), flags=cv2.INTER_LINEAR)
        light = light * (1 - mask) + warped
    own = _metered(light)
    exposure = auto_exposure(own if metered_nits is None else metered_nits, camera)
    if warped is not None:
        # the pass moves while the shutter is open; the camera and the wall do not
        dx, dy = (v * exposure.shutter_s * s for v in pose.motion_px_s)
        streak = _line_kernel(dx, dy)
        if streak is not None:
            mask = cv2.filter2D(mask, -1, streak)
            warped = cv2.filter2D(warped, -1, streak)
            light = base * (1 - mask) + warped
    # optics on the fine grid (linear light)
    if camera.lens_sigma > 0:
        light = cv2.GaussianBlur(light, (0, 0), camera.lens_sigma * s)
    if camera.defocus_px >= 0.3:
        light = cv2.filter2D(light, -1, _disc_kernel(camera.defocus_px * s))
    # each sensor pixel integrates its area
    light = cv2.resize(light, (camera.width, camera.height), interpolation=cv2.INTER_AREA)
    # sensor: share of full scale, electrons, noise, saturation, Bayer mosaic
    level = light * (exposure.shutter_s * exposure.gain / METER_K)
    tint = np.asarray(scene.tint, np.float32)
    bayer = np.empty_like(level)
    channel = np.empty(level.shape, np.int8)
    channel[0::2, 0::2], channel[0::2, 1::2] = 2, 1  # R G
    channel[1::2, 0::2], channel[1::2, 1::2] = 1, 0  # G B
    bayer = level * tint[channel]
    well = camera.full_well / exposure.gain
    electrons = np.clip(bayer, 0, None) * well
    noisy = electrons + rng.standard_normal(level.shape).astype(np.float32) * np.sqrt(
        electrons + camera.read_noise**2
    )
    raw = np.clip(noisy / well, 0.0, 1.0)
    raw16 = (raw * 65535).astype(np.uint16)
    bgr = cv2.cvtColor(raw16, cv2.COLOR_BayerRG2BGR).astype(np.float32) / 65535
    # ISP: white balance, noise reduction, sharpening, tone curve, 8 bits
    bgr /= np.maximum(bgr.reshape(-1, 3).mean(axis=0), 1e-4) / max(bgr.mean(), 1e-4)
    nr = camera.denoise * min(1.0, exposure.gain / 8.0)
    if nr >= 0.2:
        bgr = cv2.GaussianBlur(bgr, (0, 0), nr)
    if camera.sharpen > 0:
        soft = cv2.GaussianBlur(bgr, (0, 0), 1.0)
        bgr = bgr + camera.sharpen * (bgr - soft)
    out = np.clip(bgr, 0.0, 1.0) ** (1.0 / camera.gamma)
    frame = (out * 255.0 + 0.5).astype(np.uint8)
    if camera.jpeg_quality > 0:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
        if ok:
            frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return frame, replace(exposure, metered_nits=own)

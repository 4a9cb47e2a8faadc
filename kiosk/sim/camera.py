"""A simulated gate camera that renders the presented pass into real frames.

The frames look like what a kiosk camera sees: a grey, textured scene with some clutter, and
the pass on a phone screen or a printed card, tilted in perspective, blurred, with sensor
noise, screen glare or dark mode. The decoders read real pixels, so a test or the demo
exercises the same scanner code as the gate.

Rendering a presentation (segno matrix, warp, blur) costs a few milliseconds and happens once
per :meth:`SimCamera.present`; each :meth:`SimCamera.read` adds only cheap per-frame sensor
noise from a precomputed bank, so a frame costs about a millisecond. A static empty scene
still changes from frame to frame, as a real sensor does.

:mod:`kiosk.sim.camera_model` renders slower, more faithful frames (light, lens, sensor) for
the benchmark corpus (``bench/corpus.py``) and the scanner's hard-case tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np
import segno

from kiosk.errors import CameraError

__all__ = [
    "CARD",
    "DARK_PHONE",
    "HELD_CM",
    "PHONE",
    "SimCamera",
    "Style",
    "held_at",
    "qr_matrix",
    "render_frame",
]


@dataclass(frozen=True)
class Style:
    """How a pass is shown to the simulated camera.

    :param medium: ``"phone"`` (a bright screen in a dark bezel) or ``"card"`` (printed paper).
    :param dark_mode: light modules on a dark screen (an inverted code); phones only.
    :param module_px: size of one QR module in frame pixels at the centre of the code.
    :param tilt_deg: largest out-of-plane tilt of the pass towards or away from the camera,
        in degrees; each presentation draws a tilt up to this.
    :param roll_deg: largest in-plane rotation, in degrees (either way).
    :param blur_sigma: Gaussian blur (focus) in frame pixels; 0 for none.
    :param motion_px: length of a horizontal-ish motion blur in frame pixels; 0 for none.
    :param glare: strength of a specular glare spot on a phone screen, 0 (none) to 1 (white).
    :param noise_sigma: standard deviation of the per-frame sensor noise, in grey levels.
    :param jpeg_quality: JPEG quality (1-100) the frame goes through once, as an MJPEG USB
        camera does; 0 for none.
    """

    medium: str = "phone"
    dark_mode: bool = False
    module_px: float = 4.0
    tilt_deg: float = 15.0
    roll_deg: float = 10.0
    blur_sigma: float = 0.6
    motion_px: float = 0.0
    glare: float = 0.0
    noise_sigma: float = 3.0
    jpeg_quality: int = 0


PHONE = Style(medium="phone", glare=0.3)
"""A resident's phone showing the pass, with a little glare."""

DARK_PHONE = Style(medium="phone", dark_mode=True)
"""A phone in dark mode: light modules on a dark screen."""

CARD = Style(medium="card", module_px=3.5)
"""A printed pass card."""


HELD_CM = 15.0
"""Where a :class:`Style` is held from the camera, in centimetres: the distance the resident
screen asks for, and where the kiosk's fixed lens is focused."""


def held_at(style: Style, distance_cm: float) -> Style:
    """*style* held *distance_cm* from the camera instead of :data:`HELD_CM`.

    The code's modules shrink as ``HELD_CM / distance_cm``, and beyond the focus the lens
    softens it by 0.05 pixels of blur a centimetre: a phone at 30 cm shows 2 pixels a module
    under a blur of 1.35 pixels, which zxing locates but cannot read; beyond about 32 cm it
    does not even locate it. A rough model for the demo world; :mod:`kiosk.sim.camera_model`
    follows the real optics.
    """
    distance_cm = max(1.0, float(distance_cm))
    blur = style.blur_sigma + 0.05 * max(0.0, distance_cm - HELD_CM)
    return replace(style, module_px=style.module_px * HELD_CM / distance_cm, blur_sigma=blur)


def qr_matrix(text: str) -> np.ndarray | None:
    """The QR module matrix of *text* at error correction M, or ``None`` if it cannot be encoded.

    The mode (numeric, alphanumeric, kanji, byte) is chosen by segno; the error correction is
    not raised above M. Text too long for version 40 returns ``None``.

    :return: boolean array, True for a dark module, without a quiet zone.
    """
    try:
        code = segno.make(text, error="m", boost_error=False, micro=False)
    except (segno.DataOverflowError, ValueError):
        return None
    return np.asarray(code.matrix, dtype=bool)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A grey, textured scene with a little clutter (door frame, wall edges), BGR float32."""
    base = rng.uniform(80, 150)
    low = rng.normal(0.0, 12.0, (max(2, height // 60), max(2, width // 60))).astype(np.float32)
    low = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 4.0, (height // 2, width // 2)).astype(np.float32)
    fine = cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)
    ramp = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :] * rng.uniform(-15, 15)
    grey = base + low + fine + ramp
    for _ in range(int(rng.integers(1, 5))):
        x0, x1 = sorted(rng.integers(0, width, 2))
        y0, y1 = sorted(rng.integers(0, height, 2))
        cv2.rectangle(grey, (int(x0), int(y0)), (int(x1), int(y1)), float(rng.uniform(40, 200)), -1)
    for _ in range(int(rng.integers(0, 4))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(grey, p0, p1, float(rng.uniform(20, 230)), int(rng.integers(2, 8)))
    grey = cv2.GaussianBlur(grey, (0, 0), 1.2)
    tint = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    return grey[:, :, None] * tint[None, None, :]


def _pass_plane(
    matrix: np.ndarray, style: Style, rng: np.random.Generator, px: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pass (phone or card) drawn flat, *px* plane pixels per module.

    :return: (BGR float32 image, 4x2 corners of the code's modules in plane pixels).
    """
    n = matrix.shape[0]
    quiet = 4 if style.medium == "card" else int(rng.integers(2, 5))
    code_px = n * px
    if style.medium == "phone":
        screen_w = (n + 2 * quiet) * px + int(rng.integers(0, 3)) * px
        screen_h = int(screen_w * rng.uniform(1.5, 2.0))
        bezel = max(2, int(screen_w * 0.05))
        height, width = screen_h + 2 * bezel, screen_w + 2 * bezel
        if style.dark_mode:
            paper, ink = rng.uniform(15, 45), rng.uniform(190, 240)
        else:
            paper, ink = rng.uniform(215, 255), rng.uniform(0, 40)
        plane = np.full((height, width), rng.uniform(10, 35), np.uint8)
        plane[bezel : bezel + screen_h, bezel : bezel + screen_w] = paper
        x0 = bezel + (screen_w - code_px) // 2
        y0 = bezel + int((screen_h - code_px) * rng.uniform(0.3, 0.6))
        bar = max(4, screen_h // 12)
        cv2.rectangle(plane, (bezel, bezel), (bezel + screen_w, bezel + bar), float(ink * 0.6), -1)
    else:
        margin = int(rng.integers(2, 8)) * px
        width = (n + 2 * quiet) * px + 2 * margin
        height = int(width * rng.uniform(1.3, 1.6))
        paper, ink = rng.uniform(180, 235), rng.uniform(20, 70)
        plane = np.full((height, width), paper, np.uint8)
        header = int(height - width) // 2
        cv2.rectangle(plane, (0, 0), (width, header), float(rng.uniform(60, 120)), -1)
        for i in range(2):
            y = header + int(width) + i * max(12, px * 5)
            if y < height - 2:
                cv2.putText(
                    plane, "PASS 2020", (margin, y), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.3, px / 5), float(ink), 1, cv2.LINE_AA,
                )  # fmt: skip
        x0 = (width - code_px) // 2
        y0 = header + margin + quiet * px // 2
    modules = np.where(matrix, ink, paper).astype(np.uint8)
    plane[y0 : y0 + code_px, x0 : x0 + code_px] = cv2.resize(
        modules, (code_px, code_px), interpolation=cv2.INTER_NEAREST
    )
    plane = plane.astype(np.float32)
    if style.medium == "card":
        gy = np.linspace(1.0, rng.uniform(0.75, 1.0), height, dtype=np.float32)[:, None]
        plane *= gy
    if style.glare > 0 and style.medium == "phone":
        cy = rng.uniform(0.2, 0.8) * height
        cx = rng.uniform(0.2, 0.8) * width
        r = rng.uniform(0.08, 0.25) * width
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        spot = style.glare * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))
        plane = plane * (1 - spot) + 255.0 * spot
    corners = np.float32(
        [[x0, y0], [x0 + code_px, y0], [x0 + code_px, y0 + code_px], [x0, y0 + code_px]]
    )
    return cv2.cvtColor(plane, cv2.COLOR_GRAY2BGR), corners


def _pose(
    plane_shape: tuple[int, int],
    code_corners: np.ndarray,
    scale: float,
    style: Style,
    rng: np.random.Generator,
    width: int,
    height: int,
) -> np.ndarray | None:
    """A homography placing the plane in the frame, tilted, with the whole code in view."""
    ph, pw = plane_shape
    tilt = np.radians(rng.uniform(0, style.tilt_deg))
    direction = rng.uniform(0, 2 * np.pi)
    ax, ay = tilt * np.cos(direction), tilt * np.sin(direction)
    az = np.radians(rng.uniform(-style.roll_deg, style.roll_deg))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    focal = 1.1 * width
    centre = code_corners.mean(axis=0)
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])

    def project(points: np.ndarray, offset: np.ndarray) -> np.ndarray:
        flat = np.column_stack([(points - centre) * scale, np.zeros(len(points))])
        cam = flat @ rot.T + np.array([0.0, 0.0, focal])
        return cam[:, :2] * focal / cam[:, 2:3] + offset

    code0 = project(code_corners, np.zeros(2))
    lo, hi = code0.min(axis=0), code0.max(axis=0)
    room_x = (4 - lo[0], width - 4 - hi[0])
    room_y = (4 - lo[1], height - 4 - hi[1])
    if room_x[0] > room_x[1] or room_y[0] > room_y[1]:
        return None
    offset = np.array([rng.uniform(*room_x), rng.uniform(*room_y)])
    return cv2.getPerspectiveTransform(src, np.float32(project(src, offset)))


def render_frame(
    text: str | None,
    style: Style,
    rng: np.random.Generator,
    width: int = 640,
    height: int = 480,
    *,
    noise: bool = True,
    background: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Render one camera frame showing *text* as a QR code in *style*.

    :param text: the pass text; ``None`` for an empty scene. Text that segno cannot encode
        (too long for version 40) renders a blank pass with no readable code.
    :param noise: add sensor noise and JPEG artefacts; :class:`SimCamera` adds its own noise.
    :param background: the scene behind the pass (BGR float32, height x width x 3); a new
        random scene when ``None``.
    :return: (BGR uint8 frame, 4x2 float32 corners of the code in the frame, or ``None``
        when no code is visible).
    """
    scene = _background(rng, width, height) if background is None else background
    corners = None
    matrix = qr_matrix(text) if text is not None else None
    readable = matrix is not None
    if text is not None:
        if matrix is None:
            matrix = np.zeros((21, 21), dtype=bool)  # a blank screen: nothing to read
        n = matrix.shape[0]
        module_px = min(style.module_px, 0.75 * min(width, height) / n)
        homography = None
        while homography is None and module_px > 1.0:
            px = max(2, int(np.ceil(module_px * 1.5)))
            plane, code = _pass_plane(matrix, style, rng, px)
            homography = _pose(plane.shape[:2], code, module_px / px, style, rng, width, height)
            module_px *= 0.9
        if homography is not None:
            mask = cv2.warpPerspective(
                np.ones(plane.shape[:2], np.float32), homography, (width, height),
                flags=cv2.INTER_LINEAR,
            )  # fmt: skip
            warped = cv2.warpPerspective(plane, homography, (width, height), flags=cv2.INTER_LINEAR)
            scene = scene * (1 - mask[:, :, None]) + warped * mask[:, :, None]
            if readable:
                corners = cv2.perspectiveTransform(code[None], homography)[0]
    if style.blur_sigma > 0:
        scene = cv2.GaussianBlur(scene, (0, 0), style.blur_sigma)
    if style.motion_px >= 1:
        length = round(style.motion_px)
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        centre = (length / 2 - 0.5, length / 2 - 0.5)
        rot = cv2.getRotationMatrix2D(centre, float(rng.uniform(-30, 30)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        scene = cv2.filter2D(scene, -1, kernel / max(kernel.sum(), 1e-6))
    if noise and style.noise_sigma > 0:
        scene = scene + rng.normal(0.0, style.noise_sigma, scene.shape[:2])[:, :, None]
    frame = np.clip(scene, 0, 255).astype(np.uint8)
    if noise and style.jpeg_quality > 0:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, style.jpeg_quality])
        if ok:
            frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return frame, corners


class SimCamera:
    """A frame source that shows whatever pass is presented to it; safe to call from threads.

    Implements the frame-source protocol of :mod:`kiosk.camera.capture` (``read``,
    ``reopen``, ``close``, ``name``). While unplugged, :meth:`read` and :meth:`reopen` raise
    :class:`~kiosk.errors.CameraError`, as a pulled USB cable does.

    :param width: frame width in pixels.
    :param height: frame height in pixels.
    :param seed: seed for the scene, the poses and the noise; the same seed and the same
        calls give the same frames.
    :param style: the default :class:`Style` for :meth:`present`.
    """

    name = "sim"

    def __init__(
        self, width: int = 640, height: int = 480, *, seed: int = 0, style: Style = PHONE
    ) -> None:
        self.width = width
        self.height = height
        self.style = style
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._plugged = True
        self._closed = False
        self._text: str | None = None
        self._corners: np.ndarray | None = None
        self._frames_read = 0
        self._background = _background(self._rng, width, height)
        self._empty, _ = self._render(None, style)
        self._image = self._empty
        self._noise = self._noise_bank(style.noise_sigma)

    def _render(self, text: str | None, style: Style) -> tuple[np.ndarray, np.ndarray | None]:
        rng = np.random.default_rng(self._rng.integers(1 << 62))
        return render_frame(
            text, style, rng, self.width, self.height, noise=False, background=self._background
        )

    def _noise_bank(self, sigma: float, size: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
        bank = []
        for _ in range(size):
            n = self._rng.normal(0.0, sigma, (self.height, self.width, 1))
            n = np.repeat(n, 3, axis=2)
            bank.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
        return bank

    @property
    def text(self) -> str | None:
        """The text currently presented, or ``None``."""
        with self._lock:
            return self._text

    @property
    def corners(self) -> np.ndarray | None:
        """Corners (4x2, frame pixels) of the code in view, or ``None``."""
        with self._lock:
            return None if self._corners is None else self._corners.copy()

    @property
    def frames_read(self) -> int:
        """How many frames :meth:`read` has delivered."""
        with self._lock:
            return self._frames_read

    def present(self, text: str | None, *, style: Style | None = None) -> None:
        """Show *text* as a QR code from now on; ``None`` takes the pass away.

        Any text is accepted. Text that cannot be encoded (longer than version 40 holds)
        shows a pass with no readable code, as a phone with a broken pass would.
        """
        style = style or self.style
        with self._lock:
            if text is None:
                image, corners = self._empty, None
            else:
                image, corners = self._render(text, style)
            self._text, self._image, self._corners = text, image, corners

    @property
    def unplugged(self) -> bool:
        """True between :meth:`unplug` and :meth:`replug`."""
        with self._lock:
            return not self._plugged

    def unplug(self) -> None:
        """Fail like a pulled cable: reads and reopens raise until :meth:`replug`."""
        with self._lock:
            self._plugged = False

    def replug(self) -> None:
        """Plug the camera back in; reads succeed again."""
        with self._lock:
            self._plugged = True

    def read(self) -> np.ndarray:
        """The next BGR frame (uint8, height x width x 3).

        :raises CameraError: while unplugged or after :meth:`close`.
        """
        with self._lock:
            if self._closed:
                raise CameraError("simulated camera is closed")
            if not self._plugged:
                raise CameraError("simulated camera unplugged")
            plus, minus = self._noise[self._frames_read % len(self._noise)]
            self._frames_read += 1
            image = self._image
        return cv2.subtract(cv2.add(image, plus), minus)

    def reopen(self) -> None:
        """Open the device again after a failure.

        :raises CameraError: while unplugged.
        """
        with self._lock:
            if not self._plugged:
                raise CameraError("simulated camera unplugged")
            self._closed = False

    def close(self) -> None:
        """Stop delivering frames; safe to call twice."""
        with self._lock:
            self._closed = True

"""QR decoding for the gate camera: decoder backends, a retry ladder, change gate, debounce.

The scanner only finds text. It never interprets it: a pass token of any length or content
reaches the lane as the text the code holds, and the lane decides what it means.

Backends
    :class:`ZxingBackend` (zxing-cpp, the default: it reads more codes, faster, and reads
    inverted codes) and :class:`PyzbarBackend` (the ZBar library). Both decode QR codes only.

Cost on a Raspberry Pi matters more than elegance here: :meth:`Scanner.scan` converts to
greyscale once, takes a cheap look (well under a millisecond) for dense, high-contrast
patches that could be codes, and asks the backend about those patches only, climbing the
retry ladder on a patch it could not read, then (zxing) the whole frame once. An empty scene
costs the look and two whole-frame decodes (at half size above 640x480; about a millisecond
here); a frame with a code costs one small decode, most of the time. A still scene is not
scanned at all: the pass reader's change gate skips it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kiosk.camera.images import load_image
from kiosk.errors import CameraError

__all__ = [
    "BACKENDS",
    "ChangeGate",
    "Debouncer",
    "Detection",
    "PyzbarBackend",
    "ScanStats",
    "Scanner",
    "ZxingBackend",
    "focus_measure",
    "make_backend",
    "scan_files",
    "to_gray",
]

Point = tuple[float, float]


@dataclass(frozen=True)
class Detection:
    """One QR code read from a frame.

    :param text: the code's content as text. Bytes that are not valid UTF-8 are decoded as
        the code says (ECI) or as the decoder guesses (ISO-8859-1, Shift_JIS), so every byte
        string arrives as some text; the scanner never rejects or interprets a token.
    :param points: the code's four corners in frame pixels (x, y), clockwise from the corner
        the decoder reports first (for QR codes, the top-left finder pattern).
    """

    text: str
    points: tuple[Point, Point, Point, Point]


class Backend(Protocol):
    """A QR decoder: greyscale uint8 image in, detections out. Never raises on bad pixels."""

    name: str

    def decode(self, gray: np.ndarray) -> list[Detection]: ...


class ZxingBackend:
    """zxing-cpp restricted to QR codes (``zxingcpp.read_barcodes``).

    Inverted codes are left to the scanner's ladder by default (``try_invert=False``), so an
    empty frame is searched once, not twice.

    :param try_downscale: also search downscaled copies (helps large, blurred codes).
    :param binarizer: a ``zxingcpp.Binarizer`` name (``"LocalAverage"``, ``"GlobalHistogram"``).
    :param try_invert: when nothing is found, search the inverted image too (one call for
        both, for the ladder's last steps).
    """

    name = "zxing"

    def __init__(
        self,
        *,
        try_downscale: bool = True,
        binarizer: str = "LocalAverage",
        try_invert: bool = False,
    ) -> None:
        import zxingcpp

        self._zx = zxingcpp
        self._formats = zxingcpp.BarcodeFormat.QRCode
        self._binarizer = getattr(zxingcpp.Binarizer, binarizer)
        self._try_downscale = try_downscale
        self._try_invert = try_invert
        self._checksum = zxingcpp.ErrorType.Checksum
        self.located = 0

    def decode(self, gray: np.ndarray) -> list[Detection]:
        """Read every QR code in *gray* (2-D uint8).

        A code whose finder patterns, format and grid zxing found but whose data failed its
        error correction (``ErrorType.Checksum``: a code too small, soft or smeared to sample)
        is not a detection; it adds one to :attr:`located`, which the caller resets.
        """
        results = self._zx.read_barcodes(
            gray,
            formats=self._formats,
            try_rotate=False,
            try_downscale=self._try_downscale,
            try_invert=self._try_invert,
            text_mode=self._zx.TextMode.Plain,
            binarizer=self._binarizer,
            return_errors=True,
        )
        found = []
        for barcode in results:
            if not barcode.valid:
                if barcode.error.type == self._checksum:
                    self.located += 1
                continue
            pos = barcode.position
            corners = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
            points = tuple((float(p.x), float(p.y)) for p in corners)
            found.append(Detection(barcode.text, points))  # type: ignore[arg-type]
        return found


class PyzbarBackend:
    """ZBar through pyzbar, QR codes only (``symbols=[ZBarSymbol.QRCODE]``).

    ZBar converts the code's bytes to UTF-8 itself (guessing the source charset); anything
    that is still not UTF-8 is decoded with U+FFFD replacement characters. ZBar does not read
    inverted codes; the scanner's ladder inverts for it.
    """

    name = "pyzbar"

    def __init__(self) -> None:
        from pyzbar import pyzbar

        self._decode = pyzbar.decode
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, gray: np.ndarray) -> list[Detection]:
        """Read every QR code in *gray* (2-D uint8)."""
        found = []
        for symbol in self._decode(np.ascontiguousarray(gray), symbols=self._symbols):
            text = symbol.data.decode("utf-8", errors="replace")
            poly = list(symbol.polygon)
            if len(poly) != 4:
                r = symbol.rect
                poly = [
                    (r.left, r.top),
                    (r.left + r.width, r.top),
                    (r.left + r.width, r.top + r.height),
                    (r.left, r.top + r.height),
                ]
            points = tuple((float(p[0]), float(p[1])) for p in poly)
            found.append(Detection(text, points))  # type: ignore[arg-type]
        return found


BACKENDS = ("zxing", "pyzbar")
"""Names accepted by :func:`make_backend` and the ``backend`` camera setting."""


def make_backend(name: str) -> Backend:
    """The decoder backend called *name* (one of :data:`BACKENDS`).

    :raises ValueError: for an unknown name.
    """
    if name == "zxing":
        return ZxingBackend()
    if name == "pyzbar":
        return PyzbarBackend()
    raise ValueError(f"unknown QR backend {name!r}; expected one of {', '.join(BACKENDS)}")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """*frame* (BGR, BGRA or greyscale uint8) as a 2-D greyscale uint8 array (no copy if grey)."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def focus_measure(gray: np.ndarray) -> float:
    """Sharpness of *gray*: the variance of its Laplacian (higher is sharper).

    Only comparable between frames of the same scene and size: turn the lens until the
    figure peaks with a pass held where residents hold it.
    """
    return float(cv2.Laplacian(to_gray(gray), cv2.CV_64F).var())


@dataclass
class ScanStats:
    """What the last :meth:`Scanner.scan` did (for the maintenance page and the benchmark).

    :param ms: wall time of the last scan in milliseconds.
    :param step: the step that read a code, or ``None`` when nothing was read: ``"plain"``
        (a region as it is), ``"merged"`` (the box around all regions), then the ladder:
        ``"invert"``, ``"stretch"`` (CLAHE), ``"stretch-invert"``, ``"upscale"`` (2x),
        ``"upscale-invert"``, ``"sharpen"`` (2x and unsharp mask), ``"sharpen-invert"``,
        ``"upscale-global"`` (zxing's global-histogram binarizer), ``"gamma-2x"`` (2x and a
        tone curve of gamma 2, for a highlight), ``"sharpen-3x"``, ``"sharpen-3x-global"``
        (3x, unsharp mask, global-histogram binarizer, either polarity), ``"zbar"`` (ZBar on
        the region), and last ``"whole"`` and ``"whole-invert"`` (the whole frame, see
        *whole_frame*), or ``"whole-half"`` and ``"whole-half-invert"`` (a large frame with
        no region, at half size).
    :param candidates: how many code-like regions the cheap look found (0 means the ladder
        was skipped).
    :param located: how many times, in a scan that read nothing, zxing found a code (finder
        patterns, format and grid) whose data it could not recover: a code in view but too
        small, soft or smeared to read (held too far away). 0 after a read, and always 0
        with the pyzbar backend, which reports no such thing.
    :param scans: scans since the scanner was made.
    :param steps: how often each step read a code, by step name.
    """

    ms: float = 0.0
    step: str | None = None
    candidates: int = 0
    located: int = 0
    scans: int = 0
    steps: dict[str, int] = field(default_factory=dict)


class Scanner:
    """Finds QR codes in camera frames.

    A scan first looks for code-like regions (dense, high-contrast texture, at half and
    quarter resolution; well under a millisecond), then asks the backend about each region
    only, and climbs the retry ladder (inverted, contrast-stretched, upscaled) on regions it
    did not read; with the zxing backend its last steps are zxing's global-histogram
    binarizer on a small region upscaled 3x and sharpened, and ZBar on the region (ZBar's
    detector reads some codes with a highlight on a finder pattern that zxing's does not).
    When no region gave a code, the whole frame goes to the backend once as it is and once
    inverted (zxing only, by default; for a frame with no region at all, up to 640x480 whole
    and larger frames at half size): a code too soft or too low in contrast for the region
    search, or cut in pieces by a glare spot, is still read, for about a millisecond at
    640x480.

    :param backend: ``"zxing"`` (default), ``"pyzbar"``, or a :class:`Backend` object.
    :param ladder: climb the retry ladder on regions the first attempt did not read.
    :param full_frame: decode the whole frame instead of the regions (slower; for comparing).
    :param min_code_px: smallest code side, in frame pixels, the region search looks for.
    :param edge_threshold: grey-level step between neighbours (at half resolution) that
        counts as an edge; well above sensor noise.
    :param density: share of edge pixels over a code-sized window that makes a region.
    :param max_regions: at most this many regions per frame are decoded, largest first.
    :param whole_frame: when no region gave a code, decode the whole frame (as it is, then
        inverted) as the last step; ``None`` does so for the zxing backend with the ladder
        (a whole 640x480 frame costs zxing about 0.5 ms here, ZBar about 5 ms).
    :param whole_frame_px: ... and when the region search found nothing at all, whole for
        frames of at most this many pixels, at half size for larger ones (an empty 1280x720
        scene costs the look and two decodes of 640x360).
    """

    def __init__(
        self,
        backend: str | Backend = "zxing",
        *,
        ladder: bool = True,
        full_frame: bool = False,
        min_code_px: int = 48,
        edge_threshold: int = 32,
        density: float = 0.6,
        max_regions: int = 4,
        whole_frame: bool | None = None,
        whole_frame_px: int = 640 * 480,
    ) -> None:
        self.backend = make_backend(backend) if isinstance(backend, str) else backend
        self.ladder = ladder
        self.full_frame = full_frame
        self.min_code_px = min_code_px
        self.edge_threshold = edge_threshold
        self.density = density
        self.max_regions = max_regions
        self.whole_frame_px = whole_frame_px
        # a whole frame costs zxing well under a millisecond at 640x480, ZBar ten times more
        if whole_frame is None:
            whole_frame = ladder and isinstance(self.backend, ZxingBackend)
        self.whole_frame = whole_frame
        self.stats = ScanStats()
        self._clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4))
        self._kernel = np.ones((3, 3), np.uint8)
        # The ladder's last steps for the zxing backend: its global-histogram binarizer reads
        # some small, soft codes its default misses; with try_invert one call tries both
        # polarities; ZBar's detector reads some codes with a highlight on a finder pattern.
        zxing = isinstance(self.backend, ZxingBackend)
        self._global = ZxingBackend(binarizer="GlobalHistogram") if zxing else None
        self._global_both = (
            ZxingBackend(binarizer="GlobalHistogram", try_invert=True) if zxing else None
        )
        self._both = ZxingBackend(try_invert=True) if zxing else None
        self._zbar = PyzbarBackend() if zxing else None
        self._locators = [
            b
            for b in (self.backend, self._global, self._global_both, self._both)
            if isinstance(b, ZxingBackend)
        ]

    def scan(self, frame: np.ndarray) -> list[Detection]:
        """The QR codes readable in *frame* (BGR or greyscale uint8); empty if none.

        Regions are tried largest first and the scan stops at the first region that gives
        any code, so two passes held up at once may come out one per frame. Never raises for
        the pixels' sake: a frame of any content or size gives a (possibly empty) list.
        """
        start = time.perf_counter()
        for backend in self._locators:
            backend.located = 0
        gray = to_gray(frame)
        regions = self.candidate_regions(gray)
        step: str | None = None
        found: list[Detection] = []
        if self.full_frame:
            found = self.backend.decode(gray)
            step = "plain" if found else None
        if not found:
            step, found = self._climb(gray, regions)
        if not found and not self.full_frame and self.whole_frame and gray.size:
            if regions or gray.size <= self.whole_frame_px:
                step, found = self._whole(gray)
            else:  # a large frame with no region at all: the whole of it at half size
                step, found = self._whole_half(gray)
        stats = self.stats
        stats.ms = (time.perf_counter() - start) * 1000.0
        stats.step = step
        stats.candidates = len(regions)
        stats.located = 0 if found else sum(b.located for b in self._locators)
        stats.scans += 1
        if step is not None:
            stats.steps[step] = stats.steps.get(step, 0) + 1
        return found

    def candidate_regions(self, gray: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Boxes (x, y, w, h in frame pixels) of dense high-contrast patches that could be codes.

        At half, quarter and eighth resolution: a 3x3 morphological gradient, thresholded into
        edges, averaged over cells and over 3x3 cells (a window the size of the smallest code
        at half and quarter resolution, four times wider at the eighth). Where the
        share of edges passes *density*, a code could be. Noise, flat walls and single
        straight edges stay below it; a QR code of 2 to 40 pixels per module is above it.
        Printed text can be above it too, which costs a few decode attempts, nothing more.
        About 0.2 ms at 640x480.
        """
        h, w = gray.shape[:2]
        if min(h, w) < 4 * self.min_code_px // 3:
            return [(0, 0, w, h)] if h and w else []  # too small to search: try it whole
        cell = max(4, self.min_code_px // 3)  # in frame pixels
        grid = (max(1, w // cell), max(1, h // cell))
        image = gray
        mask = None
        for level in range(3):  # half, quarter and eighth: 2 to about 40 pixels per module
            image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2),
                               interpolation=cv2.INTER_AREA)  # fmt: skip
            # the eighth looks only for large codes: a window four times wider
            level_grid = grid if level < 2 else (w // (cell << 2), h // (cell << 2))
            if min(level_grid) < 3:
                break
            grad = cv2.morphologyEx(image, cv2.MORPH_GRADIENT, self._kernel)
            edges = cv2.compare(grad, self.edge_threshold, cv2.CMP_GT)
            cells = cv2.resize(edges, level_grid, interpolation=cv2.INTER_AREA)
            share = cv2.blur(cells, (3, 3))
            dense = cv2.compare(share, int(self.density * 255), cv2.CMP_GT)
            if level == 2:  # grow by a coarse cell: the window saw only the code's middle
                dense = cv2.dilate(dense, self._kernel)
                dense = cv2.resize(dense, grid, interpolation=cv2.INTER_NEAREST)
            mask = dense if mask is None else cv2.bitwise_or(mask, dense)
        if mask is None or not cv2.countNonZero(mask):
            return []
        count, _, boxes, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sx, sy = w / grid[0], h / grid[1]
        regions = []
        for x, y, bw, bh, _area in boxes[1:count]:
            if min(bw * sx, bh * sy) < self.min_code_px:
                continue  # smaller than any code: a corner, a blob, a word
            x0, y0 = max(0, int((x - 1.5) * sx)), max(0, int((y - 1.5) * sy))
            x1, y1 = min(w, int((x + bw + 1.5) * sx)), min(h, int((y + bh + 1.5) * sy))
            regions.append((x0, y0, x1 - x0, y1 - y0))
        regions.sort(key=lambda r: r[2] * r[3], reverse=True)
        return regions[: self.max_regions]

    def _climb(
        self, gray: np.ndarray, regions: list[tuple[int, int, int, int]]
    ) -> tuple[str | None, list[Detection]]:
        crops = [(x, y, gray[y : y + h, x : x + w]) for x, y, w, h in regions]
        for x, y, crop in crops:
            found = self.backend.decode(crop)
            if found:
                return "plain", [_shift(d, x, y, 1.0) for d in found]
        if len(regions) > 1:
            # a code can fall apart into several regions (very large, or glare across it)
            x0, y0 = min(r[0] for r in regions), min(r[1] for r in regions)
            x1 = max(r[0] + r[2] for r in regions)
            y1 = max(r[1] + r[3] for r in regions)
            found = self.backend.decode(gray[y0:y1, x0:x1])
            if found:
                return "merged", [_shift(d, x0, y0, 1.0) for d in found]
        if not self.ladder:
            return None, []
        for x, y, crop in crops:
            for step, image, scale, backend in self._ladder_images(crop):
                found = backend.decode(image)
                if found:
                    return step, [_shift(d, x, y, scale) for d in found]
        return None, []

    def _whole(self, gray: np.ndarray) -> tuple[str | None, list[Detection]]:
        """The whole frame, as it is and inverted: for a code the region search passed over
        (too soft or too low in contrast for its edge test) or cut in pieces (a glare spot
        across it), where the backend's own binarizer still finds it."""
        found = self.backend.decode(gray)
        if found:
            return "whole", found
        found = self.backend.decode(cv2.bitwise_not(gray))
        return ("whole-invert", found) if found else (None, [])

    def _whole_half(self, gray: np.ndarray) -> tuple[str | None, list[Detection]]:
        """A large frame with no code-like region, at half size (a quarter of the cost), as it
        is and inverted: a large code too low in contrast for the region search (a screen
        before a bright window, exposed for the window)."""
        half = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)  # fmt: skip
        for step, image in (("whole-half", half), ("whole-half-invert", cv2.bitwise_not(half))):
            found = self.backend.decode(image)
            if found:
                return step, [_shift(d, 0, 0, 0.5) for d in found]
        return None, []

    def _ladder_images(self, crop: np.ndarray) -> Iterable[tuple[str, np.ndarray, float, Backend]]:
        """The retry ladder for one region, cheapest and most often useful first."""
        backend = self.backend
        yield "invert", cv2.bitwise_not(crop), 1.0, backend
        stretched = self._clahe.apply(crop)
        yield "stretch", stretched, 1.0, backend
        yield "stretch-invert", cv2.bitwise_not(stretched), 1.0, backend
        # up to a whole 640x480 frame: zxing reads some large codes under a highlight only
        # at twice the size
        if max(crop.shape) < 700:
            big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            yield "upscale", big, 2.0, backend
            yield "upscale-invert", cv2.bitwise_not(big), 2.0, backend
            # small and soft: unsharp masking after upscaling recovers module edges
            sharp = cv2.addWeighted(big, 2.0, cv2.GaussianBlur(big, (0, 0), 2.0), -1.0, 0)
            yield "sharpen", sharp, 2.0, backend
            yield "sharpen-invert", cv2.bitwise_not(sharp), 2.0, backend
            if self._global is not None and self._both is not None:
                yield "upscale-global", big, 2.0, self._global
                # a highlight's halo lifts the dark modules around it: a gamma of 2 pulls the
                # mid-greys down and leaves the highlight's core at the top
                yield "gamma-2x", cv2.LUT(big, _GAMMA_2), 2.0, self._both
            if max(crop.shape) < 300:
                bigger = cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
                sharper = cv2.addWeighted(
                    bigger, 3.0, cv2.GaussianBlur(bigger, (0, 0), 3.0), -2.0, 0
                )
                yield "sharpen-3x", sharper, 3.0, backend
                if self._global_both is not None:  # small and soft, of either polarity
                    yield "sharpen-3x-global", sharper, 3.0, self._global_both
        if self._zbar is not None:
            yield "zbar", crop, 1.0, self._zbar


_GAMMA_2 = np.clip((np.arange(256) / 255.0) ** 2.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
"""A lookup table for a tone curve of gamma 2 (output = input squared, on 0..1)."""


def _shift(detection: Detection, dx: int, dy: int, scale: float) -> Detection:
    points = tuple((px / scale + dx, py / scale + dy) for px, py in detection.points)
    return Detection(detection.text, points)  # type: ignore[arg-type]


class ChangeGate:
    """Skips frames that look like the last scanned one, so a still scene is not decoded again.

    The frame is shrunk by *scale* (area averaging, which also averages sensor noise away)
    and compared block by block with the reference; it counts as changed when at least
    *min_blocks* blocks differ by more than *threshold* grey levels. A code coming into view
    changes many blocks at once, so it is scanned in the first frame it is in.

    :param scale: shrink factor (8: a 640x480 frame becomes 80x60 blocks).
    :param threshold: grey levels a block must change by; far above averaged sensor noise.
    :param min_blocks: how many changed blocks make a change.
    :param refresh_s: scan anyway after this many seconds without a scan, in seconds.
    """

    def __init__(
        self,
        *,
        scale: int = 8,
        threshold: float = 10.0,
        min_blocks: int = 3,
        refresh_s: float = 2.0,
    ) -> None:
        self.scale = scale
        self.threshold = threshold
        self.min_blocks = min_blocks
        self.refresh_s = refresh_s
        self._reference: np.ndarray | None = None
        self._reference_t = 0.0
        self._current: np.ndarray | None = None

    def _shrink(self, gray: np.ndarray) -> np.ndarray:
        h, w = gray.shape[:2]
        size = (max(1, w // self.scale), max(1, h // self.scale))
        return cv2.resize(to_gray(gray), size, interpolation=cv2.INTER_AREA)

    def changed(self, gray: np.ndarray, t: float) -> bool:
        """Whether *gray* (greyscale frame) at monotonic time *t* (s) needs scanning."""
        small = self._shrink(gray)
        self._current = small
        ref = self._reference
        if ref is None or ref.shape != small.shape or t - self._reference_t >= self.refresh_s:
            return True
        diff = cv2.absdiff(small, ref)
        return int(np.count_nonzero(diff > self.threshold)) >= self.min_blocks

    def remember(self, t: float) -> None:
        """Make the frame last passed to :meth:`changed` the reference (call after scanning it)."""
        if self._current is not None:
            self._reference = self._current
            self._reference_t = t

    def reset(self) -> None:
        """Forget the reference: the next frame is scanned."""
        self._reference = None


class Debouncer:
    """Reports the same text once per window.

    The window starts when the text is reported: a pass held in front of the camera for
    longer than *window_s* is reported again, which lets the lane retry, e.g. after a
    temperature that could not be read.

    :param window_s: the window in seconds.
    :param clock: any object with ``monotonic()`` (the injected clock).
    """

    def __init__(self, window_s: float, clock) -> None:
        self.window_s = window_s
        self.clock = clock
        self._last: dict[str, float] = {}

    def fresh(self, text: str) -> bool:
        """True (and remember *text*) if *text* was not reported in the last window."""
        now = self.clock.monotonic()
        for old in [k for k, t in self._last.items() if now - t >= self.window_s]:
            del self._last[old]
        if text in self._last:
            return False
        self._last[text] = now
        return True

    def reset(self) -> None:
        """Forget every text."""
        self._last.clear()


def read_image(path: str | Path) -> np.ndarray:
    """Load an image file as a greyscale uint8 array, its size checked before decoding.

    :raises CameraError: naming the file when it is missing, a folder, unreadable, larger
        than :data:`~kiosk.camera.images.MAX_IMAGE_PIXELS`, or not an image OpenCV can decode.
    """
    return load_image(path, grey=True)


def scan_files(paths: Iterable[str | Path], backend: str = "zxing") -> list[dict]:
    """Scan image files, for ``kiosk scan``.

    :return: one dict per path, in order: ``path`` (str), ``texts`` (list of str), ``ms``
        (decode time in milliseconds, without loading), ``error`` (a one-line message when
        the file could not be loaded, else ``None``). Never raises for a bad file.
    """
    scanner = Scanner(backend)
    whole: Scanner | None = None  # for pictures that are not camera frames (a scanned card)
    results = []
    for path in paths:
        entry: dict = {"path": str(path), "texts": [], "ms": 0.0, "error": None}
        try:
            image = read_image(path)
        except CameraError as exc:
            entry["error"] = str(exc)
        else:
            texts = [d.text for d in scanner.scan(image)]
            ms = scanner.stats.ms
            if not texts:
                # The region search is tuned for camera frames; a printed card scanned at
                # 300 dpi has modules of ~16 px that it can pass over. Try the whole image.
                whole = whole or Scanner(backend, full_frame=True)
                texts = [d.text for d in whole.scan(image)]
                ms += whole.stats.ms
            entry["texts"] = texts
            entry["ms"] = round(ms, 3)
        results.append(entry)
    return results

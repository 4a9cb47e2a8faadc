"""The camera side of a lane: frames in, ``PassPresented``, ``CodeUnread`` and camera health
events out.

:class:`PassReader` has no thread of its own. The daemon calls :meth:`PassReader.poll` in
the camera thread's loop; each call grabs one frame, and returns the events to put on the
lane's queue. Time comes from the injected clock, so a test drives an unplugged camera, the
fault, the reconnect back-off and the recovery without sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.camera.capture import FrameSource
from kiosk.camera.scanner import ChangeGate, Debouncer, Detection, Scanner, focus_measure, to_gray
from kiosk.config import CameraSettings
from kiosk.errors import CameraError
from kiosk.events import CodeUnread, PassPresented, SensorStatus

__all__ = ["PassReader", "ReaderSnapshot"]

log = logging.getLogger(__name__)

Event = PassPresented | CodeUnread | SensorStatus

UNREAD_RETRY_FRAMES = 15
"""Frames scanned in a row, even if unchanged, while something code-like stays unread."""

HINT_AFTER_S = 0.4
"""A code located but not read for this long (s) makes a :class:`~kiosk.events.CodeUnread`."""

HINT_GAP_S = 0.7
"""Scanned frames without a located code for longer than this (s) end the streak."""

HINT_REPEAT_S = 1.0
"""While the streak lasts, ``CodeUnread`` is sent again after this many seconds."""

RECONNECT_FIRST_S = 0.5
"""First wait before reopening a failed camera, in seconds; it doubles after each failure."""


@dataclass(frozen=True)
class ReaderSnapshot:
    """The camera of one lane at a glance, for the maintenance page.

    :param lane: lane name.
    :param source: the frame source's name.
    :param fps: frames per second actually delivered over the last few seconds.
    :param frames: frames read since start.
    :param scans: frames the scanner looked at (the change gate skips still scenes).
    :param last_decode_ms: time of the last scan in milliseconds, or ``None``.
    :param last_step: the retry-ladder step that read the last code, or ``None``.
    :param focus: variance of the Laplacian of the last frame (higher is sharper), or ``None``.
    :param fault: what is wrong with the camera, or ``None`` when it works.
    :param last_read_t: monotonic time (s) a pass was last reported, or ``None``.
    :param region: corners (x, y) of the last decoded code in the last frame, or ``None``.
    :param frame: the last frame (do not modify), or ``None``.
    """

    lane: str
    source: str
    fps: float
    frames: int
    scans: int
    last_decode_ms: float | None
    last_step: str | None
    focus: float | None
    fault: str | None
    last_read_t: float | None
    region: tuple[tuple[float, float], ...] | None
    frame: np.ndarray | None

    def jpeg(self, quality: int = 80) -> bytes | None:
        """The last frame as JPEG bytes, the last decoded code outlined in green.

        :return: ``None`` when there is no frame yet or encoding fails.
        """
        if self.frame is None:
            return None
        image = self.frame
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
        if self.region is not None:
            points = np.round(np.array(self.region)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(image, [points], True, (0, 200, 0), 3, cv2.LINE_AA)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        return data.tobytes() if ok else None


class PassReader:
    """Reads passes from one lane's camera.

    :param source: the frame source (see :mod:`kiosk.camera.capture`).
    :param scanner: the QR scanner.
    :param clock: the injected clock (``monotonic()``).
    :param lane: the lane's name, copied into every event.
    :param settings: the lane's camera settings (``debounce_s``, ``no_frame_fault_s``,
        ``reconnect_max_s`` are used here).
    :param gate: the change gate; a default :class:`ChangeGate` when ``None``.
    """

    def __init__(
        self,
        source: FrameSource,
        scanner: Scanner,
        clock,
        lane: str,
        settings: CameraSettings,
        *,
        gate: ChangeGate | None = None,
    ) -> None:
        self.source = source
        self.scanner = scanner
        self.clock = clock
        self.lane = lane
        self.settings = settings
        self.gate = gate or ChangeGate()
        self.debouncer = Debouncer(settings.debounce_s, clock)
        self._lock = threading.Lock()  # guards what snapshot() reads
        now = clock.monotonic()
        self._last_frame_t = now
        self._fault: str | None = None
        self._error: str | None = None
        self._need_reopen = False
        self._backoff = RECONNECT_FIRST_S
        self._next_attempt = now
        self._reopened_t = now
        self._unread_streak = 0
        self._located_since: float | None = None  # first frame of the streak (monotonic s)
        self._located_last = 0.0
        self._hinted: float | None = None  # when the last CodeUnread went out
        self._frame_times: deque[float] = deque(maxlen=32)
        self._frames = 0
        self._scans = 0
        self._frame: np.ndarray | None = None
        self._region: tuple[tuple[float, float], ...] | None = None
        self._last_ms: float | None = None
        self._last_step: str | None = None
        self._last_read_t: float | None = None

    @property
    def fault(self) -> str | None:
        """What is wrong with the camera, or ``None``."""
        with self._lock:
            return self._fault

    def poll(self) -> list[Event]:
        """Grab one frame and return the events it gives (often none). Never raises.

        - :class:`~kiosk.events.PassPresented` for each code read whose text was not
          reported within ``debounce_s``.
        - :class:`~kiosk.events.CodeUnread` when the scanner has located a code in its frames
          for ``HINT_AFTER_S`` without reading any (gaps up to ``HINT_GAP_S``), then again
          every ``HINT_REPEAT_S`` while that lasts.
        - ``SensorStatus(source="camera", ok=False)`` once, when no frame has arrived for
          ``no_frame_fault_s`` (the device failed, or delivers nothing); the source is then
          reopened with back-off from 0.5 s doubling to ``reconnect_max_s``.
        - ``SensorStatus(source="camera", ok=True)`` once, with the first frame after a fault.
        """
        try:
            return self._poll()
        except Exception:  # a bug or a surprise from a driver must not kill the camera thread
            log.exception("camera %s: unexpected error in poll", self.lane)
            return []

    def _poll(self) -> list[Event]:
        now = self.clock.monotonic()
        if self._need_reopen:
            if now < self._next_attempt:
                return self._check_stalled(now)
            try:
                self.source.reopen()
            except CameraError as exc:
                self._failed(now, str(exc))
                return self._check_stalled(now)
            self._need_reopen = False
            self._reopened_t = now
        try:
            frame = self.source.read()
        except CameraError as exc:
            self._failed(now, str(exc))
            return self._check_stalled(now)
        if frame is None:
            return self._check_stalled(now)
        events: list[Event] = []
        if self._fault is not None:
            log.info("camera %s: frames again", self.lane)
            events.append(SensorStatus(self.lane, now, "camera", True, "camera working again"))
        self._backoff = RECONNECT_FIRST_S
        self._error = None
        gray = to_gray(frame)
        detections: list[Detection] | None = None
        if self.gate.changed(gray, now):
            detections = self.scanner.scan(gray)
            stats = self.scanner.stats
            unread = not detections and (stats.candidates > 0 or stats.located > 0)
            events.extend(self._hint(now, bool(detections), stats.located > 0))
            self._unread_streak = self._unread_streak + 1 if unread else 0
            # Something code-like but unread (a pass still moving into focus): keep scanning
            # the next frames, up to UNREAD_RETRY_FRAMES, then let the gate rest.
            if not unread or self._unread_streak >= UNREAD_RETRY_FRAMES:
                self.gate.remember(now)
        for detection in detections or ():
            if self.debouncer.fresh(detection.text):
                events.append(PassPresented(self.lane, now, detection.text))
        with self._lock:
            self._fault = None
            self._last_frame_t = now
            self._frame_times.append(now)
            self._frames += 1
            self._frame = frame
            if detections is not None:
                self._scans += 1
                self._last_ms = self.scanner.stats.ms
                if detections:
                    self._region = detections[0].points
                    self._last_step = self.scanner.stats.step
                    self._last_read_t = now
        return events

    def _hint(self, now: float, read: bool, located: bool) -> list[Event]:
        """A :class:`CodeUnread` when a located, unread code has lasted ``HINT_AFTER_S``.

        zxing locates a code it cannot decode in a third of the frames of a pass held too far
        away, and in none of the benchmark's empty frames; asking for the streak to last
        0.4 s keeps a single odd frame (a textured shirt going past) from prompting anyone.
        """
        if read:
            self._located_since = self._hinted = None
            return []
        if not located:
            if self._located_since is not None and now - self._located_last > HINT_GAP_S:
                self._located_since = self._hinted = None
            return []
        if self._located_since is None or now - self._located_last > HINT_GAP_S:
            self._located_since, self._hinted = now, None
        self._located_last = now
        if now - self._located_since < HINT_AFTER_S:
            return []
        if self._hinted is not None and now - self._hinted < HINT_REPEAT_S:
            return []
        self._hinted = now
        return [CodeUnread(self.lane, now)]

    def _failed(self, now: float, message: str) -> None:
        """The source failed: remember why and schedule the next reopen."""
        if self._error != message:
            log.warning("camera %s: %s", self.lane, message)
        self._error = message
        self._need_reopen = True
        self._next_attempt = now + self._backoff
        self._backoff = min(self._backoff * 2, self.settings.reconnect_max_s)

    def _check_stalled(self, now: float) -> list[Event]:
        """Raise the fault once when no frame came for ``no_frame_fault_s``."""
        limit = self.settings.no_frame_fault_s
        with self._lock:
            stalled = now - self._last_frame_t
            fault = self._fault
        if fault is not None:
            # reopened, yet still nothing: try again later
            if not self._need_reopen and now - self._reopened_t >= limit:
                self._failed(now, self._error or fault)
            return []
        if stalled < limit:
            return []
        with self._lock:
            message = self._error or f"no frame from the camera for {stalled:.1f} s"
            self._fault = message
        if not self._need_reopen:
            self._failed(now, message)
        log.error("camera %s fault: %s", self.lane, message)
        return [SensorStatus(self.lane, now, "camera", False, message)]

    def snapshot(self) -> ReaderSnapshot:
        """The camera's state for the maintenance page; safe to call from another thread."""
        with self._lock:
            times = list(self._frame_times)
            frame = self._frame
            region = self._region
            snap = dict(
                lane=self.lane,
                source=getattr(self.source, "name", type(self.source).__name__),
                frames=self._frames,
                scans=self._scans,
                last_decode_ms=self._last_ms,
                last_step=self._last_step,
                fault=self._fault,
                last_read_t=self._last_read_t,
            )
        fps = (
            (len(times) - 1) / (times[-1] - times[0])
            if len(times) > 1 and times[-1] > times[0]
            else 0.0
        )
        focus = focus_measure(frame) if frame is not None else None
        return ReaderSnapshot(fps=round(fps, 2), focus=focus, region=region, frame=frame, **snap)

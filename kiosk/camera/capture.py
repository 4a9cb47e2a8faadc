"""Frame sources for the gate camera (its settings are :class:`kiosk.config.CameraSettings`).

Every source has the same small shape (:class:`FrameSource`):

``read()``
    The next frame as a uint8 numpy array, BGR (height x width x 3) or greyscale
    (height x width), or ``None`` when there is no new frame right now (a file source at
    its end, a camera between frames). A source that has lost its device **raises**
    :class:`~kiosk.errors.CameraError`; it never hangs on to a dead device silently.
``reopen()``
    Release the device and open it again; raises :class:`~kiosk.errors.CameraError` if it
    still cannot be opened. The caller (:class:`~kiosk.camera.reader.PassReader`) decides
    when, with back-off by its injected clock; sources never sleep or retry on their own.
``close()``
    Release the device; safe to call twice. ``read()`` after ``close()`` raises.
``name``
    A short human-readable name for logs and the maintenance page.

Only a hardware provider builds sources (:func:`open_source`, through
:meth:`kiosk.hardware.PiHardware.camera`); the simulated world has its own camera
(``kiosk/sim/camera.py``), and tests pass that or a :class:`FileSource`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from kiosk.camera.images import MAX_IMAGE_PIXELS, load_image
from kiosk.errors import CameraError, ConfigError

__all__ = [
    "IMAGE_SUFFIXES",
    "FileSource",
    "FrameSource",
    "OpenCVSource",
    "Picamera2Source",
    "open_source",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"})
"""File name endings :class:`FileSource` treats as images in a folder."""


@runtime_checkable
class FrameSource(Protocol):
    """Anything that delivers camera frames; see the module docstring for the contract."""

    name: str

    def read(self) -> np.ndarray | None: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...


class _Camera:
    """What a real camera source shares: open on first use, release, reopen, close."""

    _closed = False

    def _open(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def reopen(self) -> None:
        """Release the device and open it again.

        :raises CameraError: if it cannot be opened.
        """
        self._release()
        self._closed = False
        self._open()

    def close(self) -> None:
        """Release the camera; safe to call twice."""
        self._closed = True
        self._release()


class OpenCVSource(_Camera):
    """A V4L2 camera through OpenCV (``cv2.VideoCapture(device, cv2.CAP_V4L2)``).

    The device is opened on the first :meth:`read`, not in the constructor, so a camera
    that is missing at start becomes a fault the reader reports and retries, not a crash.
    ``read()`` blocks until the camera delivers a frame (about one frame interval when it is
    healthy, at most *read_timeout_s* when it is not).

    :param device: V4L2 index (``0``) or device path (``"/dev/video0"``).
    :param width: requested width in pixels; the camera may pick the nearest it supports.
    :param height: requested height in pixels.
    :param fps: requested frames per second.
    :param fourcc: pixel format as four characters (``"MJPG"``), or ``None``/``""`` for the
        camera's default.
    :param read_timeout_s: longest wait for one frame, in seconds (where OpenCV's V4L2
        backend honours ``CAP_PROP_READ_TIMEOUT_MSEC``).
    :param capture_factory: builds the capture object (``cv2.VideoCapture`` by default);
        tests pass a fake with the same methods.
    """

    def __init__(
        self,
        device: int | str,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        fourcc: str | None = None,
        *,
        read_timeout_s: float = 2.0,
        capture_factory=cv2.VideoCapture,
    ) -> None:
        self.read_timeout_s = read_timeout_s
        self.device = device
        self.width = width
        self.height = height
        self.fps = fps
        self.fourcc = fourcc or ""
        self.name = f"v4l2:{device}"
        self._factory = capture_factory
        self._cap = None
        self._closed = False

    def _open(self) -> None:
        cap = self._factory(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"camera {self.device} cannot be opened (unplugged, or busy?)")
        if self.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
        # OpenCV's V4L2 backend otherwise waits up to 10 s for a frame from a stalled camera.
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.read_timeout_s * 1000)
        self._cap = cap

    def read(self) -> np.ndarray:
        """The next BGR frame.

        :raises CameraError: when the camera cannot be opened or stops delivering frames.
        """
        if self._closed:
            raise CameraError(f"camera {self.device} is closed")
        if self._cap is None:
            self._open()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._release()
            raise CameraError(f"camera {self.device} delivered no frame (unplugged?)")
        return frame

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


class Picamera2Source(_Camera):
    """A Raspberry Pi camera module through the picamera2 library.

    picamera2 is not a dependency of kiosk (it comes with Raspberry Pi OS as
    ``python3-picamera2``); it is imported only when this source opens.

    :param width: frame width in pixels.
    :param height: frame height in pixels.
    :param fps: frames per second.
    """

    name = "picamera2"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self._camera = None
        self._closed = False

    def _open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CameraError(
                "camera source 'picamera2' needs the picamera2 library "
                "(on Raspberry Pi OS: apt install python3-picamera2, and a venv made with "
                "--system-site-packages)"
            ) from None
        try:
            camera = Picamera2()
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},
                controls={"FrameRate": float(self.fps)},
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera raises a variety of errors
            raise CameraError(f"Pi camera cannot be opened: {exc}") from exc
        self._camera = camera

    def read(self) -> np.ndarray:
        """The next frame, BGR (picamera2's "RGB888" is B, G, R in memory).

        :raises CameraError: when the camera cannot be opened or fails.
        """
        if self._closed:
            raise CameraError("Pi camera is closed")
        if self._camera is None:
            self._open()
        try:
            return self._camera.capture_array("main")
        except Exception as exc:
            self._release()
            raise CameraError(f"Pi camera failed: {exc}") from exc

    def _release(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
                camera.close()
            except Exception:  # closing a failed camera must not fail the caller
                pass


class FileSource:
    """Frames from a video file or a folder of images, for maintenance and benchmarks.

    A folder's images (by name ending, see :data:`IMAGE_SUFFIXES`) are read in sorted name
    order. At the end, :meth:`read` returns ``None`` (no new frame), or starts again when
    *loop* is set.

    Each image's size is read from its header and checked against *max_pixels* before it
    is decoded; a video's frame size as its container declares it (the frames' own
    bitstream is not checked: FFmpeg decodes it).

    :param path: a video file OpenCV can read, or a folder of images.
    :param loop: start again from the first frame at the end.
    :param max_pixels: refuse images (and videos) of more pixels than this, width x height.
    :raises CameraError: if *path* does not exist, or is a folder with no images.
    """

    def __init__(
        self, path: str | Path, loop: bool = False, *, max_pixels: int = MAX_IMAGE_PIXELS
    ) -> None:
        self.path = Path(path)
        self.loop = loop
        self.max_pixels = max_pixels
        self.name = f"file:{self.path.name}"
        self._closed = False
        self._index = 0
        self._video = None
        if self.path.is_dir():
            self._images = sorted(
                p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not self._images:
                raise CameraError(f"{self.path}: folder holds no images")
        elif self.path.is_file():
            self._images = None
        else:
            raise CameraError(f"{self.path}: no such file or folder")

    def read(self) -> np.ndarray | None:
        """The next frame (BGR), or ``None`` at the end when not looping.

        :raises CameraError: after :meth:`close`, for a video OpenCV cannot open, or for an
            image in the folder that cannot be decoded or declares more than *max_pixels*
            (the next read goes on past it).
        """
        if self._closed:
            raise CameraError(f"{self.path}: source is closed")
        if self._images is not None:
            return self._read_image()
        return self._read_video()

    def _read_image(self) -> np.ndarray | None:
        if self._index >= len(self._images):
            if not self.loop:
                return None
            self._index = 0
        path = self._images[self._index]
        self._index += 1
        return load_image(path, grey=False, max_pixels=self.max_pixels)

    def _read_video(self) -> np.ndarray | None:
        if self._video is None:
            video = cv2.VideoCapture(str(self.path))
            if not video.isOpened():
                video.release()
                raise CameraError(f"{self.path}: not a video OpenCV can read")
            width = int(video.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))
            if width * height > self.max_pixels:  # as the container declares it
                video.release()
                raise CameraError(
                    f"{self.path}: refused, the video declares {width}x{height} pixels a frame"
                )
            self._video = video
        ok, frame = self._video.read()
        if ok:
            return frame
        if not self.loop:
            return None
        self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, frame = self._video.read()
        return frame if ok else None

    def reopen(self) -> None:
        """Open again: a video starts again from its first frame; a folder goes on from the
        image after the last one read, so that a reader reopening after a bad image goes on
        past it instead of reading the images before it again for ever."""
        self.close()
        self._closed = False

    def close(self) -> None:
        """Release the video; safe to call twice."""
        self._closed = True
        video, self._video = self._video, None
        if video is not None:
            video.release()


_V4L2_PATH = re.compile(r"^/dev/(video\d+|v4l/.+)$")


def open_source(settings, lane: str = "") -> FrameSource:
    """Build the frame source *settings* (``[lanes.<lane>.camera]``) ask for. Nothing is
    opened yet for cameras.

    :raises ConfigError: ``source = "sim"``: the simulated camera belongs to the simulated
        world (:class:`kiosk.sim.hardware.SimHardware`), not to a Pi.
    :raises CameraError: for a source that names neither a camera nor an existing file.
    """
    source = settings.source.strip()
    if source == "sim":
        where = f"lanes.{lane}.camera" if lane else "camera"
        raise ConfigError(
            f"{where}: source 'sim' needs [gate] hardware = 'sim'; on a Pi name the camera "
            '(e.g. "/dev/video0" or "picamera2")'
        )
    if source == "picamera2":
        return Picamera2Source(settings.width, settings.height, settings.fps)
    if source.isdigit():
        device: int | str = int(source)
    elif _V4L2_PATH.match(source):
        device = source
    else:
        return FileSource(source)
    return OpenCVSource(
        device, settings.width, settings.height, settings.fps, settings.fourcc or None
    )

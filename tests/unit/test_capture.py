"""Frame sources and camera settings: what each source does when the device misbehaves."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from kiosk.camera.capture import (
    FileSource,
    FrameSource,
    OpenCVSource,
    Picamera2Source,
    open_source,
)
from kiosk.config import CameraSettings
from kiosk.errors import CameraError, ConfigError
from kiosk.sim.camera import SimCamera


class FakeCapture:
    """Behaves like ``cv2.VideoCapture`` on a V4L2 camera that can be pulled out."""

    def __init__(self, world: dict, device, api):
        self.world = world
        self.device = device
        self.api = api
        self.props: dict[int, float] = {}
        self.released = False
        world["opened"].append(self)

    def isOpened(self):
        return self.world["plugged"]

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def read(self):
        if not self.world["plugged"] or self.released:
            return False, None
        return True, np.full((4, 6, 3), len(self.world["opened"]), np.uint8)

    def release(self):
        self.released = True


def fake_factory(world):
    return lambda device, api: FakeCapture(world, device, api)


def test_camera_settings_defaults():
    s = CameraSettings()
    assert (s.source, s.width, s.height, s.fps, s.fourcc) == ("sim", 640, 480, 15.0, "")
    assert (s.debounce_s, s.backend, s.no_frame_fault_s, s.reconnect_max_s) == (
        3.0, "zxing", 3.0, 5.0
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"no_frame_fault_s": 6.0}, "no_frame_fault_s"),
        ({"no_frame_fault_s": 0.0}, "no_frame_fault_s"),
        ({"backend": "quirc"}, "backend"),
        ({"fourcc": "MJPEG"}, "fourcc"),
        ({"width": 0}, "width"),
        ({"fps": -1.0}, "fps"),
        ({"reconnect_max_s": 0.1}, "reconnect_max_s"),
        ({"source": ""}, "source"),
    ],
)
def test_camera_settings_refuse_bad_values_naming_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        CameraSettings(**kwargs)


def test_open_source_picks_the_source_kind(tmp_path, clock):
    from kiosk.config import LaneSettings
    from kiosk.sim.hardware import SimHardware

    simulated = SimHardware(clock, {"main": LaneSettings()})
    sim = simulated.world.lane("main").camera
    assert simulated.camera("main", CameraSettings(source="sim")) is sim
    assert isinstance(sim, SimCamera)
    with pytest.raises(ConfigError, match=r"lanes\.main\.camera: source .sim. needs"):
        open_source(CameraSettings(source="sim"), lane="main")  # a Pi has no simulated camera
    v4l2 = open_source(CameraSettings(source="2", fourcc="MJPG", width=1280, height=720))
    assert isinstance(v4l2, OpenCVSource)
    assert (v4l2.device, v4l2.width, v4l2.height, v4l2.fourcc) == (2, 1280, 720, "MJPG")
    assert open_source(CameraSettings(source="/dev/video1")).device == "/dev/video1"
    assert isinstance(open_source(CameraSettings(source="picamera2")), Picamera2Source)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4), np.uint8))
    assert isinstance(open_source(CameraSettings(source=str(tmp_path))), FileSource)
    with pytest.raises(CameraError, match="no such file"):
        open_source(CameraSettings(source=str(tmp_path / "nowhere")))


def test_every_source_satisfies_the_protocol(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4), np.uint8))
    for source in (SimCamera(8, 8), OpenCVSource(0), Picamera2Source(), FileSource(tmp_path)):
        assert isinstance(source, FrameSource)
        assert source.name


def test_opencv_source_opens_on_first_read_with_the_requested_format():
    world = {"plugged": True, "opened": []}
    source = OpenCVSource(0, 1280, 720, 30.0, "MJPG", capture_factory=fake_factory(world))
    assert world["opened"] == []  # nothing opened by the constructor
    assert source.read().shape == (4, 6, 3)
    (cap,) = world["opened"]
    assert cap.api == cv2.CAP_V4L2
    assert cap.props[cv2.CAP_PROP_FRAME_WIDTH] == 1280
    assert cap.props[cv2.CAP_PROP_FRAME_HEIGHT] == 720
    assert cap.props[cv2.CAP_PROP_FPS] == 30.0
    assert cap.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")


def test_opencv_source_raises_when_unplugged_and_reopens_after():
    world = {"plugged": True, "opened": []}
    source = OpenCVSource("/dev/video0", capture_factory=fake_factory(world))
    source.read()
    world["plugged"] = False
    with pytest.raises(CameraError, match="no frame"):
        source.read()
    assert world["opened"][0].released
    with pytest.raises(CameraError, match="cannot be opened"):
        source.reopen()
    world["plugged"] = True
    source.reopen()
    assert source.read()[0, 0, 0] == 3  # the third capture object delivers
    source.close()
    source.close()
    assert all(cap.released for cap in world["opened"])
    with pytest.raises(CameraError, match="closed"):
        source.read()


@pytest.mark.skipif(
    importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed here"
)
def test_picamera2_source_without_the_library_says_what_to_install():
    source = Picamera2Source()
    with pytest.raises(CameraError, match="python3-picamera2"):
        source.read()
    source.close()
    source.close()


def test_file_source_reads_a_folder_in_name_order_then_none(tmp_path):
    for name, value in (("b.png", 20), ("a.png", 10), ("c.jpg", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), value, np.uint8))
    (tmp_path / "readme.txt").write_text("not a frame")
    source = FileSource(tmp_path)
    values = [int(source.read()[0, 0, 0]) for _ in range(3)]
    assert values[:2] == [10, 20] and abs(values[2] - 30) <= 2  # JPEG may round
    assert source.read() is None
    assert source.read() is None


def test_file_source_loops_when_asked(tmp_path):
    cv2.imwrite(str(tmp_path / "only.png"), np.full((8, 8), 77, np.uint8))
    source = FileSource(tmp_path, loop=True)
    assert [int(source.read()[0, 0, 0]) for _ in range(3)] == [77, 77, 77]


def test_file_source_reports_a_broken_image_and_goes_on(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(tmp_path / "b.png"), np.full((8, 8), 5, np.uint8))
    source = FileSource(tmp_path)
    with pytest.raises(CameraError, match=r"a\.png"):
        source.read()
    assert int(source.read()[0, 0, 0]) == 5


def test_file_source_refuses_a_missing_path_and_an_empty_folder(tmp_path):
    with pytest.raises(CameraError, match="no such file"):
        FileSource(tmp_path / "nope.avi")
    with pytest.raises(CameraError, match="no images"):
        FileSource(tmp_path)


def test_file_source_reads_a_video_file(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for value in (40, 120, 200):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    source = FileSource(path)
    frames = [source.read() for _ in range(3)]
    assert [round(f.mean() / 40) for f in frames] == [1, 3, 5]
    assert source.read() is None
    source.reopen()
    assert source.read() is not None
    source.close()
    source.close()
    with pytest.raises(CameraError, match="closed"):
        source.read()


def test_file_source_refuses_a_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "notes.avi"
    path.write_text("hello")
    with pytest.raises(CameraError, match="not a video"):
        FileSource(path).read()


def test_file_source_reopened_after_a_broken_image_goes_on_past_it(tmp_path):
    # A reader reopens its source after a CameraError: a folder must then go on past the
    # broken image, not start again at the first image and meet the broken one for ever.
    cv2.imwrite(str(tmp_path / "a.png"), np.full((8, 8), 1, np.uint8))
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(tmp_path / "c.png"), np.full((8, 8), 3, np.uint8))
    source = FileSource(tmp_path)
    assert int(source.read()[0, 0, 0]) == 1
    with pytest.raises(CameraError, match=r"b\.png"):
        source.read()
    source.reopen()
    assert int(source.read()[0, 0, 0]) == 3
    assert source.read() is None

"""The pass reader: one frame per poll, debounced passes, camera faults and recovery by clock."""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.config import CameraSettings
from kiosk.errors import CameraError
from kiosk.events import PassPresented, SensorStatus
from kiosk.sim.camera import SimCamera

SETTINGS = CameraSettings(debounce_s=3.0, no_frame_fault_s=2.0, reconnect_max_s=4.0)


class RecordingSource:
    """A simulated camera that records when it was asked to reopen."""

    name = "recording-sim"

    def __init__(self, camera: SimCamera, clock) -> None:
        self.camera = camera
        self.clock = clock
        self.reopens: list[float] = []

    def read(self):
        return self.camera.read()

    def reopen(self):
        self.reopens.append(self.clock.monotonic())
        self.camera.reopen()

    def close(self):
        self.camera.close()


class StarvedSource:
    """A camera that is open but delivers nothing (None) until fed."""

    name = "starved"

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.reopens = 0

    def read(self):
        return self.frames.pop(0) if self.frames else None

    def reopen(self):
        self.reopens += 1

    def close(self):
        pass


class BrokenSource:
    """A driver that fails with something that is not a CameraError."""

    name = "broken"

    def read(self):
        raise RuntimeError("driver bug")

    def reopen(self):
        pass

    def close(self):
        pass


def poll_for(reader, clock, seconds, step=0.125):
    """Poll every *step* simulated seconds for *seconds*; all events in order.

    The step is a power of two so that simulated times add up exactly.
    """
    events = []
    for _ in range(round(seconds / step)):
        clock.advance(step)
        events.extend(reader.poll())
    return events


def test_reader_reports_a_presented_pass_once_per_debounce_window(clock):
    camera = SimCamera(seed=12)
    reader = PassReader(camera, Scanner(), clock, "east", SETTINGS)
    assert reader.poll() == []
    camera.present("RESIDENT 0042")
    events = reader.poll()
    assert events == [PassPresented("east", clock.monotonic(), "RESIDENT 0042")]
    assert poll_for(reader, clock, 2.875) == []
    # Still held after the window: reported again when the change gate next looks (it
    # rescans a still scene every refresh_s, 2 s).
    later = poll_for(reader, clock, 2.0)
    assert [e.text for e in later] == ["RESIDENT 0042"]


def test_reader_does_not_scan_a_still_scene_frame_after_frame(clock):
    camera = SimCamera(seed=13)
    reader = PassReader(camera, Scanner(), clock, "east", SETTINGS)
    poll_for(reader, clock, 1.875)  # 15 frames of a noisy, empty scene
    snap = reader.snapshot()
    assert snap.frames == 15
    assert snap.scans == 1
    camera.present("JUST ARRIVED")
    clock.advance(0.125)
    assert [e.text for e in reader.poll()] == ["JUST ARRIVED"]


def test_reader_unplugged_camera_faults_once_then_recovers_when_replugged(clock):
    camera = SimCamera(seed=14)
    source = RecordingSource(camera, clock)
    reader = PassReader(source, Scanner(), clock, "west", SETTINGS)
    reader.poll()
    camera.unplug()
    unplugged_at = clock.monotonic()
    events = poll_for(reader, clock, 20.0)
    assert len(events) == 1
    (fault,) = events
    assert isinstance(fault, SensorStatus)
    assert (fault.lane, fault.source, fault.ok) == ("west", "camera", False)
    assert "unplugged" in fault.message
    assert fault.t - unplugged_at <= SETTINGS.no_frame_fault_s
    assert reader.fault == fault.message
    gaps = np.diff([unplugged_at, *source.reopens])
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 2.0  # doubling back-off
    assert max(gaps) <= SETTINGS.reconnect_max_s + 0.125  # capped
    assert len(source.reopens) <= 9  # not hammering the device every poll

    camera.replug()
    camera.present("BACK AGAIN")
    recovered = poll_for(reader, clock, SETTINGS.reconnect_max_s + 0.2)
    assert isinstance(recovered[0], SensorStatus) and recovered[0].ok
    assert [e.text for e in recovered[1:]] == ["BACK AGAIN"]
    assert reader.fault is None
    assert reader.snapshot().fault is None


def test_reader_faults_when_the_camera_delivers_nothing_and_reopens_it(clock):
    source = StarvedSource()
    reader = PassReader(source, Scanner(), clock, "east", SETTINGS)
    events = poll_for(reader, clock, 2.0)
    assert [(e.t, e.ok, e.message) for e in events] == [
        (2.0, False, "no frame from the camera for 2.0 s")
    ]
    poll_for(reader, clock, 5.0)
    assert source.reopens >= 2
    source.frames.append(SimCamera(seed=1).read())
    clock.advance(4.0)
    assert [(e.ok, e.source) for e in reader.poll()] == [(True, "camera")]


def test_reader_poll_never_raises(clock):
    reader = PassReader(BrokenSource(), Scanner(), clock, "east", SETTINGS)
    assert reader.poll() == []


def test_reader_open_failure_at_start_is_a_fault_not_a_crash(clock):
    class Missing(StarvedSource):
        name = "missing"

        def read(self):
            raise CameraError("camera 0 cannot be opened (unplugged, or busy?)")

    reader = PassReader(Missing(), Scanner(), clock, "east", SETTINGS)
    events = poll_for(reader, clock, 3.0)
    assert [e.message for e in events] == ["camera 0 cannot be opened (unplugged, or busy?)"]


def test_reader_snapshot_for_the_maintenance_page(clock):
    camera = SimCamera(seed=15)
    reader = PassReader(camera, Scanner(), clock, "east", SETTINGS)
    assert reader.snapshot().jpeg() is None
    camera.present("OUTLINE ME")
    poll_for(reader, clock, 1.25)  # 10 frames, 0.125 s apart
    snap = reader.snapshot()
    assert snap.lane == "east" and snap.source == "sim"
    assert snap.fps == 8.0
    assert snap.last_decode_ms is not None and snap.last_decode_ms > 0
    assert snap.last_step == "plain"
    assert snap.focus is not None and snap.focus > 0
    assert snap.region is not None and len(snap.region) == 4
    assert snap.fault is None
    data = snap.jpeg()
    assert data is not None
    assert data[:2] == b"\xff\xd8"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    x, y = (int(v) for v in snap.region[0])
    patch = image[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3)
    assert (patch[:, 1].astype(int) - patch[:, 2].astype(int)).max() > 100  # green outline


def test_reader_keeps_scanning_an_unread_code_like_region_for_a_while(clock):
    # a still frame with a QR-like block of random modules that no decoder can read
    frame = SimCamera(seed=16).read()
    modules = np.random.default_rng(16).integers(0, 2, (29, 29), dtype=np.uint8) * 255
    frame[100:216, 100:216] = cv2.resize(modules, (116, 116), interpolation=cv2.INTER_NEAREST)[
        :, :, None
    ]
    source = StarvedSource()
    source.frames = [frame.copy() for _ in range(45)]
    reader = PassReader(source, Scanner(), clock, "east", SETTINGS)
    poll_for(reader, clock, 5 * 0.125)
    assert reader.snapshot().scans == 5  # a pass may be coming into focus
    poll_for(reader, clock, 40 * 0.125)  # until t = 5.625 s
    # 15 in a row, then the gate rests: one more scan when it refreshes 2 s later
    assert reader.snapshot().scans == 16

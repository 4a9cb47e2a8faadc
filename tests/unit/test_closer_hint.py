"""The "hold your pass closer" signal on rendered frames: the scanner locates a code it cannot
read, and the pass reader turns a streak of such frames into one ``CodeUnread``."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from bench.corpus import TUNING_PRIOR, draw_frame
from kiosk.camera.reader import HINT_AFTER_S, HINT_REPEAT_S, PassReader
from kiosk.camera.scanner import Scanner
from kiosk.config import CameraSettings
from kiosk.events import CodeUnread, PassPresented
from kiosk.sim.camera import CARD, DARK_PHONE, PHONE, SimCamera, held_at

#: A resident pass's length of text: a version 6 code, as every resident pass is.
TOKEN = "HC1:" + "ABCDEFGHIJ0123456789" * 6
SETTINGS = CameraSettings(debounce_s=3.0)
#: 16 frames a second: a power of two, so simulated times add up exactly.
STEP = 1 / 16


def textured_frame() -> np.ndarray:
    """A scene with a dense block of random modules (a patterned shirt, a crossword): code-
    like to the region search, but with no finder pattern."""
    frame = SimCamera(seed=16).read()
    modules = np.random.default_rng(16).integers(0, 2, (29, 29), dtype=np.uint8) * 255
    block = cv2.resize(modules, (116, 116), interpolation=cv2.INTER_NEAREST)
    frame[100:216, 100:216] = block[:, :, None]
    return frame


@pytest.mark.parametrize(
    ("style", "cm", "seed"),
    [(PHONE, 29, 0), (CARD, 27, 0), (DARK_PHONE, 29, 1)],
    ids=["phone", "card", "dark"],
)
def test_scanner_locates_a_far_code_it_cannot_read(style, cm, seed):
    camera = SimCamera(seed=seed)
    camera.present(TOKEN, style=held_at(style, cm))
    scanner = Scanner()
    located = 0
    for _ in range(8):
        assert scanner.scan(camera.read()) == []
        located += scanner.stats.located > 0
    assert located >= 6


def test_scanner_reads_a_code_held_where_asked_and_locates_nothing_unread():
    camera = SimCamera(seed=0)
    camera.present(TOKEN, style=held_at(PHONE, 15))
    scanner = Scanner()
    assert [d.text for d in scanner.scan(camera.read())] == [TOKEN]
    assert scanner.stats.located == 0


@pytest.mark.parametrize("seed", range(6))
def test_scanner_locates_nothing_in_empty_scenes(seed):
    rng = np.random.default_rng(900 + seed)
    physical = draw_frame(rng, TUNING_PRIOR, None, 640, 480)["frame"]
    scanner = Scanner()
    for frame in (physical, SimCamera(seed=seed).read(), textured_frame()):
        assert scanner.scan(frame) == []
        assert scanner.stats.located == 0


def test_scanner_with_pyzbar_never_locates():
    camera = SimCamera(seed=0)
    camera.present(TOKEN, style=held_at(PHONE, 29))
    scanner = Scanner("pyzbar")
    scanner.scan(camera.read())
    assert scanner.stats.located == 0


def run(reader, clock, seconds):
    """Poll every STEP for *seconds*; (time since start, event) for every event."""
    start = clock.monotonic()
    out = []
    for _ in range(round(seconds / STEP)):
        clock.advance(STEP)
        out += [(clock.monotonic() - start, e) for e in reader.poll()]
    return out


def test_reader_asks_for_the_pass_closer_after_a_sustained_streak(clock):
    camera = SimCamera(seed=0)
    reader = PassReader(camera, Scanner(), clock, "east", SETTINGS)
    camera.present(TOKEN, style=held_at(PHONE, 29))
    events = run(reader, clock, 2.5)
    hints = [t for t, e in events if isinstance(e, CodeUnread)]
    assert hints and all(isinstance(e, CodeUnread) for _, e in events)
    assert HINT_AFTER_S <= hints[0] <= HINT_AFTER_S + 0.25
    # again at most once a second while it lasts (a still scene rests the change gate
    # after UNREAD_RETRY_FRAMES, which ends the streak)
    assert all(b - a >= HINT_REPEAT_S for a, b in itertools.pairwise(hints))
    # brought closer: read, and no more hints
    camera.present(TOKEN, style=held_at(PHONE, 15))
    later = run(reader, clock, 2.0)
    assert [type(e) for _, e in later] == [PassPresented]


def test_reader_gives_no_hint_for_a_readable_pass_or_an_empty_or_textured_scene(clock):
    camera = SimCamera(seed=0)
    reader = PassReader(camera, Scanner(), clock, "east", SETTINGS)
    assert run(reader, clock, 2.0) == []  # the empty scene
    camera.present(TOKEN)
    assert [type(e) for _, e in run(reader, clock, 2.0)] == [PassPresented]


class Frames:
    """A frame source that delivers ``next_frame(n)`` for the n-th frame read (from 1)."""

    name = "frames"

    def __init__(self, next_frame) -> None:
        self.next_frame = next_frame
        self.n = 0

    def read(self):
        self.n += 1
        return self.next_frame(self.n)

    def reopen(self):
        pass

    def close(self):
        pass


def test_reader_gives_no_hint_for_a_textured_scene(clock):
    still = textured_frame()
    reader = PassReader(Frames(lambda n: still.copy()), Scanner(), clock, "east", SETTINGS)
    assert run(reader, clock, 3.0) == []


def test_reader_a_single_located_frame_is_not_a_hint(clock):
    far = SimCamera(seed=0)
    far.present(TOKEN, style=held_at(PHONE, 29))
    empty = SimCamera(seed=0)

    def passing(n: int):
        """Something code-like goes past in one frame a second (a shirt, a bag): never for
        as long as the hint waits."""
        return far.read() if n % 16 == 0 else empty.read()

    reader = PassReader(Frames(passing), Scanner(), clock, "east", SETTINGS)
    assert run(reader, clock, 4.0) == []

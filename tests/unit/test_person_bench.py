"""The per-person bench times a rendered clip through the daemon's pass reader."""

from __future__ import annotations

import numpy as np
import pytest

from bench.person import FPS, clip, time_to_read


@pytest.fixture(scope="module")
def person():
    """One resident raising a printed pass (rendered once: about a second)."""
    return clip(np.random.default_rng(8), "print")


def test_person_clip_raises_the_pass_into_view_and_holds_it(person):
    frames, first = person["frames"], person["first_in_view"]
    assert first is not None and first > 0  # an empty scene first, then the pass comes up
    assert len(frames) - first >= round(1.2 * FPS)  # held for at least 1.2 s after that
    assert all(f.shape == (480, 640, 3) for f in frames)


def test_time_to_read_is_measured_from_the_code_in_view_to_the_reader_report(person):
    seconds = time_to_read(person)
    assert seconds is not None
    assert 0.0 <= seconds <= (len(person["frames"]) - person["first_in_view"]) / FPS


def test_time_to_read_is_none_when_the_reader_never_reports_that_pass(person):
    assert time_to_read({**person, "text": "SOMEONE ELSE"}) is None
    blank = [np.full_like(f, 120) for f in person["frames"]]
    assert time_to_read({**person, "frames": blank}) is None


def test_person_answering_the_prompt_brings_the_pass_closer_after_a_reaction(person):
    held = person["clip"]
    rng = np.random.default_rng(3)
    move = held.answer(1.0, rng)
    assert 0.6 <= move.at - (1.0 - held.idle / FPS) <= 1.2  # the reaction time
    assert 0.3 <= move.seconds <= 0.6
    assert move.module_px >= held.module_px  # nearer, or already as near
    own = np.random.default_rng(4)
    frames = held.answering(move, own, rng)
    first = int(move.at * FPS) + held.idle + 1
    assert frames(first - 1) is held.frame(first - 1, own)  # as without the prompt so far
    assert frames(first) is not held.frame(first, own)
    after = move.at + move.seconds + 0.1
    assert held.where(after, move)[2] == pytest.approx(move.module_px)
    speed = held.where(move.at + move.seconds / 2, move)[0] - held.where(move.at, move)[0]
    assert np.hypot(*speed) > 0  # moving, so blurred by it
    assert frames(first + 20).shape == (480, 640, 3)

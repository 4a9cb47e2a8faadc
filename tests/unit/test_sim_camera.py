"""The simulated camera renders real, decodable frames and fails like a pulled cable."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.camera.scanner import Scanner
from kiosk.errors import CameraError
from kiosk.sim.camera import CARD, DARK_PHONE, SimCamera, qr_matrix


def test_sim_camera_frames_are_bgr_uint8_of_the_configured_size():
    camera = SimCamera(320, 240)
    frame = camera.read()
    assert frame.shape == (240, 320, 3)
    assert frame.dtype == np.uint8


def test_sim_camera_still_scene_has_per_frame_noise():
    camera = SimCamera()
    first, second = camera.read(), camera.read()
    diff = np.abs(first.astype(int) - second.astype(int))
    assert diff.max() > 0
    assert diff.mean() < 10  # noise, not a new scene


def test_sim_camera_same_seed_gives_same_frames():
    a, b = SimCamera(seed=7), SimCamera(seed=7)
    a.present("SAME")
    b.present("SAME")
    assert np.array_equal(a.read(), b.read())


def test_sim_camera_presented_code_is_in_view_and_readable():
    camera = SimCamera()
    camera.present("HELLO GATE 1")
    corners = camera.corners
    assert corners is not None
    assert (corners >= 0).all()
    assert (corners[:, 0] < 640).all() and (corners[:, 1] < 480).all()
    assert [d.text for d in Scanner().scan(camera.read())] == ["HELLO GATE 1"]


@pytest.mark.parametrize("style", [CARD, DARK_PHONE], ids=["card", "dark-phone"])
def test_sim_camera_styles_render_readable_codes(style):
    camera = SimCamera(seed=3)
    camera.present("STYLE TEST", style=style)
    assert [d.text for d in Scanner().scan(camera.read())] == ["STYLE TEST"]


def test_sim_camera_taking_the_pass_away_shows_the_empty_scene():
    camera = SimCamera()
    camera.present("GONE SOON")
    camera.present(None)
    assert camera.text is None
    assert camera.corners is None
    assert Scanner().scan(camera.read()) == []


def test_sim_camera_text_too_long_for_a_qr_code_shows_no_code():
    text = "x" * 3000  # more than version 40-M holds in byte mode (2331)
    assert qr_matrix(text) is None
    camera = SimCamera()
    camera.present(text)
    assert camera.text == text
    assert camera.corners is None
    assert Scanner().scan(camera.read()) == []


def test_sim_camera_unplugged_raises_until_replugged():
    camera = SimCamera()
    camera.unplug()
    with pytest.raises(CameraError, match="unplugged"):
        camera.read()
    with pytest.raises(CameraError):
        camera.reopen()
    camera.replug()
    camera.reopen()
    assert camera.read() is not None
    assert camera.frames_read == 1


def test_sim_camera_close_twice_is_safe_and_reads_then_fail():
    camera = SimCamera()
    camera.close()
    camera.close()
    with pytest.raises(CameraError, match="closed"):
        camera.read()
    camera.reopen()
    assert camera.read() is not None

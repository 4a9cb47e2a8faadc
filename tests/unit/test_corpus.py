"""The benchmark corpus is drawn in physical units: sizes and blur follow from distance."""

from __future__ import annotations

import numpy as np
import pytest
import segno

from bench.corpus import KINDS, TUNING_PRIOR, draw_setup
from kiosk.sim.camera_model import defocus_radius


def test_defocus_radius_follows_the_thin_lens_and_is_nil_in_focus():
    # a Pi Camera v2 (1.5 mm pupil, 530 px at 640x480) focused at 15 cm
    assert defocus_radius(1.5, 530.0, 150.0, 150.0) == 0.0
    far = defocus_radius(1.5, 530.0, 150.0, 250.0)
    assert far == pytest.approx(0.5 * 1.5 * 530 * 100 / (250 * 150))
    # against a 1 mm module (530 / 250 px) the disc is A |d - s| / (s m) = 1 module wide
    assert 2 * far / (530.0 / 250.0) == pytest.approx(1.0)


def test_a_pass_held_further_is_smaller_and_more_out_of_focus():
    setup = draw_setup(np.random.default_rng(3), TUNING_PRIOR, "screen", 640, 480)
    assert setup.optics.focus_mm is None or 120 <= setup.optics.focus_mm <= 190
    near, far = setup.at(150.0), setup.at(300.0)
    assert far.presentation.module_px == pytest.approx(near.presentation.module_px / 2)
    if setup.optics.focus_mm is not None:  # a fixed lens focused near 15 cm
        assert far.camera.defocus_px > near.camera.defocus_px
    speed = np.hypot(*far.motion_px_s) / np.hypot(*near.motion_px_s)
    assert speed == pytest.approx(0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_every_pass_is_a_version_6_or_7_code_of_the_physical_module_size(kind):
    rng = np.random.default_rng(11)
    for _ in range(20):
        setup = draw_setup(rng, TUNING_PRIOR, kind, 640, 480)
        assert setup.version in (6, 7)
        assert segno.make(setup.text, error="m", boost_error=False).version == setup.version
        assert 50.0 <= setup.distance_mm <= TUNING_PRIOR.max_distance_mm
        if kind == "print":  # the card's 70 mm code with its 4-module quiet zone
            assert setup.module_mm == pytest.approx(70.0 / (17 + 4 * setup.version + 8))
        else:  # 45-100 % of a 62-76 mm screen
            assert 0.5 < setup.module_mm < 1.6


def test_a_1280x720_frame_sees_the_same_pass_1_5_or_2_times_larger():
    a = draw_setup(np.random.default_rng(5), TUNING_PRIOR, "print", 640, 480)
    b = draw_setup(np.random.default_rng(5), TUNING_PRIOR, "print", 1280, 720)
    ratio = b.presentation.module_px / a.presentation.module_px
    assert ratio == pytest.approx(1.5) or ratio == pytest.approx(2.0)

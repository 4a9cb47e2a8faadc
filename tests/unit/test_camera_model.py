"""The camera model renders what a cheap camera sees, and the scanner reads its hard kinds."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.camera.scanner import Scanner
from kiosk.sim.camera_model import (
    Camera,
    Pose,
    Presentation,
    Scene,
    auto_exposure,
    code_in_view,
    place,
    plane_light,
    render,
    render_plane,
)

PASS = "KP1:" + "W62NA0D8D1OD/-GWYD.JN72N646646646646746+/6*96746B$1*YK-J 6%Q1:8 *PL.FT3Z" * 2
"""As long as a resident pass (148 characters of base45): a version 6 code at level M."""


def shot(pres: Presentation, scene: Scene, camera: Camera | None = None, *, seed: int = 1,
         motion=(0.0, 0.0), edge_modules: float = 1.5, hug_edge: bool = False):  # fmt: skip
    """One rendered frame (640x480 unless *camera* says) of PASS and the code's corners in it."""
    camera = camera or Camera()
    rng = np.random.default_rng(seed)
    plane = render_plane(PASS, pres, rng, scene.ambient_nits)
    homography = place(plane, pres.module_px, rng, camera.width, camera.height,
                       edge_modules=edge_modules, hug_edge=hug_edge,
                       focal=camera.focal)  # fmt: skip
    assert homography is not None
    frame, exposure = render(plane, Pose(homography, motion), scene, camera, rng)
    return frame, code_in_view(plane, homography, camera.width, camera.height), exposure


def read(frame) -> list[str]:
    return [d.text for d in Scanner().scan(frame)]


def test_camera_model_frames_are_bgr_uint8_and_the_same_for_the_same_seed():
    pres, scene = Presentation(module_px=4.0), Scene(ambient_nits=150)
    a, corners, _ = shot(pres, scene)
    b, _, _ = shot(pres, scene)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert corners is not None and (corners >= 0).all()


def test_a_card_is_drawn_as_kiosk_cards_prints_it():
    plane = render_plane(
        PASS, Presentation(medium="card", quiet_modules=4), np.random.default_rng(0), 100.0
    )
    height, width = plane.light.shape
    assert height / width == pytest.approx(148 / 105, abs=0.01)  # A6
    code = plane.corners[1, 0] - plane.corners[0, 0]  # without its 4-module quiet zone
    modules = 41  # a version 6 code
    assert code * (modules + 8) / modules == pytest.approx(width * 70 / 105, rel=0.02)


def test_auto_exposure_lengthens_the_shutter_then_raises_the_gain_as_light_falls():
    camera = Camera(fps=15.0, max_gain=16.0)
    day, dusk, night = (auto_exposure(n, camera) for n in (2000.0, 100.0, 5.0))
    assert day.shutter_s < dusk.shutter_s <= 1 / 15 and day.gain == 1.0
    assert night.shutter_s == pytest.approx(1 / 15) and night.gain > 1.0
    assert auto_exposure(0.01, camera).gain == 16.0  # no more gain: the frame goes dark


def test_a_bright_phone_in_a_dark_scene_is_exposed_longer_and_overexposed():
    pres = Presentation(module_px=3.0, screen_nits=200.0)

    def code_region(ambient):
        frame, corners, exposure = shot(pres, Scene(ambient_nits=ambient), Camera(jpeg_quality=0))
        x0, y0 = corners.min(axis=0).astype(int)
        x1, y1 = corners.max(axis=0).astype(int)
        return frame[y0:y1, x0:x1, 1], exposure

    night, dark = code_region(5.0)
    day, bright = code_region(400.0)
    assert dark.shutter_s * dark.gain > 2 * bright.shutter_s * bright.gain
    # exposed for the dark wall, the screen's white is near the top of the scale
    assert np.percentile(night, 95) > 235 > 180 > np.percentile(day, 95)


def test_motion_blurs_the_pass_but_not_the_wall():
    pres, scene = Presentation(module_px=5.0), Scene(ambient_nits=20.0)  # a long shutter
    still, corners, _ = shot(pres, scene, Camera(jpeg_quality=0), seed=3)
    moving, _, _ = shot(pres, scene, Camera(jpeg_quality=0), seed=3, motion=(300.0, 0.0))
    x0, y0 = corners.min(axis=0).astype(int) + 5
    x1, y1 = corners.max(axis=0).astype(int) - 5
    grey = lambda f: f[:, :, 1].astype(float)  # noqa: E731
    inside = np.abs(np.diff(grey(moving)[y0:y1, x0:x1], axis=1)).mean()
    assert inside < 0.7 * np.abs(np.diff(grey(still)[y0:y1, x0:x1], axis=1)).mean()
    wall = np.ones(still.shape[:2], bool)
    wall[max(0, y0 - 80) : y1 + 80, max(0, x0 - 120) : x1 + 120] = False
    # the same wall behind, different noise only
    assert np.abs(grey(moving)[wall] - grey(still)[wall]).mean() < 6


def test_a_highlight_moves_across_the_glass_with_the_pass():
    rng = np.random.default_rng(0)
    plane = render_plane(PASS, Presentation(glare=2.0, glare_size=0.1), rng, 150.0)
    here, there = plane_light(plane), plane_light(plane, (40.0, 0.0))
    peak_here = np.unravel_index(np.argmax(here - plane.light), here.shape)
    peak_there = np.unravel_index(np.argmax(there - plane.light), there.shape)
    assert peak_there[1] - peak_here[1] == pytest.approx(40, abs=2)
    assert peak_there[0] == pytest.approx(peak_here[0], abs=2)


def test_code_in_view_is_none_when_part_of_the_code_is_out_of_the_frame():
    rng = np.random.default_rng(4)
    plane = render_plane(PASS, Presentation(module_px=4.0), rng, 150.0)
    inside = place(plane, 4.0, rng, 640, 480, centre=(320.0, 240.0), rotation=(0, 0, 0))
    outside = place(plane, 4.0, rng, 640, 480, centre=(20.0, 240.0), rotation=(0, 0, 0))
    assert code_in_view(plane, inside, 640, 480) is not None
    assert code_in_view(plane, outside, 640, 480) is None


@pytest.mark.parametrize(
    ("pres", "scene", "camera"),
    [
        (  # a printed card under a porch lamp, a hand's shadow across it, MJPEG
            Presentation(medium="card", module_px=3.5, ink=0.1, shading=0.6),
            Scene(ambient_nits=25.0),
            Camera(jpeg_quality=70),
        ),
        (  # a phone in daylight: the screen dimmer than the scene, a veil of reflection
            Presentation(module_px=3.5, screen_nits=450.0, veil=0.04),
            Scene(ambient_nits=1500.0),
            Camera(jpeg_quality=75),
        ),
        (  # a sky reflection across the glass
            Presentation(module_px=3.8, screen_nits=200.0, glare=0.6, glare_size=0.25),
            Scene(ambient_nits=150.0),
            Camera(),
        ),
        (  # dark mode in the evening, slightly out of focus
            Presentation(module_px=3.5, dark_mode=True, screen_nits=60.0),
            Scene(ambient_nits=20.0),
            Camera(defocus_px=0.5),
        ),
    ],
    ids=["print-dim-shadow", "screen-daylight", "glare-sky", "inverted-evening"],
)
def test_scanner_reads_small_hard_codes_of_every_kind(pres, scene, camera):
    frame, corners, _ = shot(pres, scene, camera, seed=7)
    assert corners is not None
    assert read(frame) == [PASS]


@pytest.mark.parametrize(
    ("pres", "scene", "camera", "motion", "seed", "step"),
    [
        (  # a lamp's highlight on a finder pattern: ZBar's detector still finds the code
            Presentation(module_px=4.9, screen_nits=130.0, glare=3.5, glare_size=0.08,
                         screen_contrast=770.0, veil=0.033, quiet_modules=2, code_share=0.7,
                         screen_px_per_module=14.0),
            Scene(ambient_nits=187.0, tint=(0.81, 1.0, 1.19), seed=1053075313),
            Camera(lens_sigma=0.64, defocus_px=1.5, full_well=4800.0, read_noise=4.8,
                   ae_bias_ev=0.38, denoise=0.57, sharpen=0.18, gamma=1.93, jpeg_quality=59,
                   focal_px=535.0),
            (-4.5, -11.9), 15, "zbar",
        ),
        (  # a lamp's highlight beside a finder pattern, its halo over the modules
            Presentation(module_px=6.9, screen_nits=166.0, glare=2.7, glare_size=0.053,
                         screen_contrast=1e5, veil=0.031, quiet_modules=2, code_share=0.96,
                         screen_px_per_module=26.0),
            Scene(ambient_nits=49.0, tint=(0.89, 1.0, 1.11), seed=332919566),
            Camera(lens_sigma=0.4, defocus_px=0.66, full_well=4100.0, read_noise=4.0,
                   ae_bias_ev=-0.23, denoise=0.86, sharpen=0.2, gamma=2.15, jpeg_quality=86,
                   focal_px=758.0),
            (5.9, -6.3), 219, "gamma-2x",
        ),
        (  # dark mode held at 2.3 px a module, its light modules overexposed into each other
            Presentation(dark_mode=True, module_px=2.3, screen_nits=189.0, screen_contrast=1e5,
                         veil=0.033, quiet_modules=4, code_share=0.53, screen_px_per_module=9.5),
            Scene(ambient_nits=68.0, tint=(0.76, 1.0, 1.24), seed=1118951793),
            Camera(lens_sigma=0.66, defocus_px=0.36, full_well=6500.0, read_noise=2.9,
                   ae_bias_ev=0.25, denoise=0.81, sharpen=0.47, gamma=2.03, jpeg_quality=62,
                   focal_px=514.0),
            (-1.8, -13.4), 2, "gamma-2x",
        ),
        (  # dark mode at night under a porch lamp, 2.85 px a module, soft and noisy
            Presentation(dark_mode=True, module_px=2.85, screen_nits=43.0, screen_contrast=985.0,
                         veil=0.042, quiet_modules=3, code_share=0.5, screen_px_per_module=14.6),
            Scene(ambient_nits=9.8, tint=(0.74, 1.0, 1.26), seed=23011025),
            Camera(lens_sigma=0.75, defocus_px=0.15, full_well=3560.0, read_noise=3.8,
                   ae_bias_ev=0.18, denoise=0.39, sharpen=0.35, gamma=2.11, jpeg_quality=56,
                   focal_px=607.0),
            (6.3, -9.9), 8, "sharpen-3x-global",
        ),
        (  # 1280x720: a card before a bright window, exposed for the window, out of focus
            Presentation(medium="card", module_px=7.0, ink=0.08, paper=0.75, quiet_modules=4),
            Scene(ambient_nits=2600.0, backlight=0.4, backlight_gain=6.0, seed=5),
            Camera(width=1280, height=720, lens_sigma=0.9, defocus_px=3.0, jpeg_quality=70,
                   focal_px=1100.0),
            (0.0, 0.0), 1, "whole-half",
        ),
    ],
    ids=["glare-on-a-finder", "lamp-highlight", "dark-mode-overexposed-small",
         "dark-mode-dim-small", "backlit-720p"],
)  # fmt: skip
def test_scanner_reads_with_its_last_steps_what_every_earlier_step_misses(
    pres, scene, camera, motion, seed, step
):
    frame, corners, _ = shot(pres, scene, camera, seed=seed, motion=motion)
    assert corners is not None
    scanner = Scanner()
    assert [d.text for d in scanner.scan(frame)] == [PASS]
    assert scanner.stats.step == step  # every step before it read nothing


def test_scanner_reads_a_pass_running_out_of_the_frame():
    pres = Presentation(module_px=4.0, screen_nits=150.0)
    frame, corners, _ = shot(pres, Scene(ambient_nits=100.0), seed=2, edge_modules=0.3,
                             hug_edge=True)  # fmt: skip
    assert corners is not None
    near_edge = min(corners[:, 0].min(), corners[:, 1].min(), 640 - corners[:, 0].max(),
                    480 - corners[:, 1].max())  # fmt: skip
    assert near_edge < 4 * 4.0  # the quiet zone is cut by the frame's edge
    assert read(frame) == [PASS]


def test_scanner_reads_nothing_in_empty_camera_model_scenes():
    rng = np.random.default_rng(11)
    scanner = Scanner()
    for ambient, medium in ((10.0, "phone"), (300.0, "card"), (2000.0, "phone")):
        plane = render_plane(None, Presentation(medium=medium, module_px=4.0), rng, ambient)
        homography = place(plane, 4.0, rng, 640, 480)
        frame, _ = render(plane, Pose(homography), Scene(ambient_nits=ambient), Camera(), rng)
        assert scanner.scan(frame) == []

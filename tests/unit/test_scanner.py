"""The scanner reads real pixels with real decoders: backends, ladder, gate, debounce, files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.camera.scanner import (
    ChangeGate,
    Debouncer,
    PyzbarBackend,
    Scanner,
    ZxingBackend,
    focus_measure,
    make_backend,
    scan_files,
)
from kiosk.clock import FakeClock
from kiosk.sim.camera import CARD, DARK_PHONE, PHONE, SimCamera, Style, qr_matrix

EASY = Style(medium="card", module_px=4.0, tilt_deg=8.0, roll_deg=5.0, blur_sigma=0.4)


def flat_code(text: str, module_px: int = 4, inverted: bool = False) -> np.ndarray:
    """A straight-on greyscale QR code with a quiet zone, as a screenshot would be."""
    matrix = qr_matrix(text)
    assert matrix is not None
    image = np.where(matrix, 0, 255).astype(np.uint8)
    image = np.pad(image, 4, constant_values=255)
    image = cv2.resize(image, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    return 255 - image if inverted else image


@pytest.mark.parametrize("backend", ["zxing", "pyzbar"])
@pytest.mark.parametrize("style", [PHONE, CARD], ids=["phone", "card"])
def test_scanner_reads_sim_camera_frames_with_each_backend(backend, style):
    camera = SimCamera(seed=11, style=style)
    camera.present("HK7 4P-Q9:ABC")
    scanner = Scanner(backend)
    found = scanner.scan(camera.read())
    assert [d.text for d in found] == ["HK7 4P-Q9:ABC"]
    assert scanner.stats.step is not None


def test_detection_points_lie_on_the_rendered_code():
    camera = SimCamera(seed=5)
    camera.present("WHERE IS IT")
    (found,) = Scanner().scan(camera.read())
    expected = camera.corners
    got = np.array(found.points)
    assert len(found.points) == 4
    # every decoded corner is within a few pixels of some rendered corner
    gaps = np.linalg.norm(got[:, None, :] - expected[None, :, :], axis=2).min(axis=1)
    assert gaps.max() < 8


def test_zxing_backend_without_ladder_misses_inverted_code_that_ladder_reads():
    camera = SimCamera(seed=2)
    camera.present("DARK MODE PASS", style=DARK_PHONE)
    frame = camera.read()
    assert Scanner("zxing", ladder=False).scan(frame) == []
    scanner = Scanner("zxing")
    assert [d.text for d in scanner.scan(frame)] == ["DARK MODE PASS"]
    assert scanner.stats.step == "invert"


def test_zxing_backend_reads_an_inverted_code_itself_only_with_try_invert():
    image = flat_code("LIGHT ON DARK", inverted=True)
    assert ZxingBackend().decode(image) == []
    assert [d.text for d in ZxingBackend(try_invert=True).decode(image)] == ["LIGHT ON DARK"]


def test_pyzbar_reads_inverted_code_only_through_the_ladder():
    image = flat_code("INVERTED", inverted=True)
    assert PyzbarBackend().decode(image) == []
    assert [d.text for d in Scanner("pyzbar").scan(image)] == ["INVERTED"]


@pytest.mark.parametrize(
    "text",
    [
        "中文通行证 3号楼 502室",
        "A",
        "日本語",  # segno encodes this in kanji mode (Shift_JIS)
        "0123456789" * 50,  # 500 characters
        "\x00\x01\x7f binary ÿ",
        "emoji 🚪",
    ],
    ids=["chinese", "one-char", "kanji", "500-chars", "binaryish", "emoji"],
)
def test_zxing_round_trips_any_text(text):
    camera = SimCamera(seed=1, style=EASY)
    camera.present(text)
    assert [d.text for d in Scanner("zxing").scan(camera.read())] == [text]


@pytest.mark.parametrize("text", ["中文通行证", "A", "x" * 500], ids=["chinese", "one", "500"])
def test_pyzbar_round_trips_text(text):
    camera = SimCamera(seed=1, style=EASY)
    camera.present(text)
    assert [d.text for d in Scanner("pyzbar").scan(camera.read())] == [text]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=80))
def test_zxing_returns_text_for_any_content_and_exact_ascii(text):
    found = ZxingBackend().decode(flat_code(text, module_px=3))
    assert len(found) == 1
    assert isinstance(found[0].text, str)
    if text.isascii():
        assert found[0].text == text


def test_scanner_skips_the_ladder_on_an_empty_scene():
    camera = SimCamera(seed=4)
    scanner = Scanner()
    assert scanner.scan(camera.read()) == []
    assert scanner.stats.candidates == 0
    assert scanner.stats.step is None
    assert scanner.stats.ms > 0


def test_scanner_counts_ladder_steps():
    scanner = Scanner()
    scanner.scan(flat_code("ONE"))
    scanner.scan(flat_code("TWO", inverted=True))
    assert scanner.stats.scans == 2
    assert scanner.stats.steps == {"plain": 1, "invert": 1}


def test_scanner_reads_greyscale_and_bgr_frames_alike():
    gray = flat_code("GREY OR COLOUR")
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    assert [d.text for d in Scanner().scan(gray)] == [d.text for d in Scanner().scan(bgr)]


def test_make_backend_names_the_choices_for_an_unknown_backend():
    with pytest.raises(ValueError, match="zxing, pyzbar"):
        make_backend("quirc")


def test_change_gate_skips_a_still_noisy_scene_but_passes_a_new_code():
    camera = SimCamera(seed=9)
    gate = ChangeGate(refresh_s=60.0)
    assert gate.changed(camera.read()[:, :, 1], 0.0)  # nothing to compare with yet
    gate.remember(0.0)
    skipped = [not gate.changed(camera.read()[:, :, 1], 0.1 * i) for i in range(1, 30)]
    assert all(skipped)
    camera.present("NEW ARRIVAL", style=Style(module_px=2.5))  # a small code, far away
    assert gate.changed(camera.read()[:, :, 1], 3.0)


def test_change_gate_scans_again_after_refresh_s():
    camera = SimCamera(seed=9)
    gate = ChangeGate(refresh_s=2.0)
    gate.changed(camera.read(), 0.0)
    gate.remember(0.0)
    assert not gate.changed(camera.read(), 1.9)
    assert gate.changed(camera.read(), 2.0)
    gate.reset()
    assert gate.changed(camera.read(), 2.1)


def test_debouncer_reports_the_same_text_once_per_window():
    clock = FakeClock()
    debouncer = Debouncer(3.0, clock)
    assert debouncer.fresh("PASS-1")
    clock.advance(2.9)
    assert not debouncer.fresh("PASS-1")
    assert debouncer.fresh("PASS-2")
    clock.advance(0.1)
    assert debouncer.fresh("PASS-1")  # the window runs from the report, not the last sighting
    assert not debouncer.fresh("PASS-1")
    debouncer.reset()
    assert debouncer.fresh("PASS-1")


def test_focus_measure_is_higher_for_a_sharper_frame():
    camera = SimCamera(seed=6, style=Style(blur_sigma=0.0, noise_sigma=0.0))
    camera.present("FOCUS")
    sharp = camera.read()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    assert focus_measure(sharp) > 2 * focus_measure(blurred)


def test_scan_files_reports_missing_non_image_and_good_files(tmp_path):
    good = tmp_path / "pass.png"
    camera = SimCamera(seed=8)
    camera.present("FILE PASS")
    cv2.imwrite(str(good), camera.read())
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), SimCamera(seed=8).read())

    results = scan_files([good, tmp_path / "missing.png", text_file, tmp_path, empty])

    assert [r["path"] for r in results] == [
        str(good), str(tmp_path / "missing.png"), str(text_file), str(tmp_path), str(empty)
    ]  # fmt: skip
    assert results[0]["texts"] == ["FILE PASS"] and results[0]["error"] is None
    assert results[0]["ms"] > 0
    assert "no such file" in results[1]["error"] and results[1]["texts"] == []
    assert "not an image" in results[2]["error"]
    assert "folder" in results[3]["error"]
    assert results[4] == {"path": str(empty), "texts": [], "ms": results[4]["ms"], "error": None}


def test_scan_files_with_pyzbar_backend(tmp_path):
    path = tmp_path / "code.png"
    cv2.imwrite(str(path), flat_code("PYZBAR FILE"))
    assert scan_files([path], backend="pyzbar")[0]["texts"] == ["PYZBAR FILE"]


@pytest.mark.parametrize("module_px", [3, 12, 30], ids=["small", "medium", "close-up"])
def test_scanner_finds_codes_from_far_to_close(module_px):
    code = cv2.GaussianBlur(flat_code("NEAR OR FAR", module_px=module_px), (0, 0), 0.8)
    h, w = code.shape
    frame = np.full((max(480, h + 20), max(640, w + 20)), 118, np.uint8)
    frame[10 : 10 + h, 10 : 10 + w] = code
    assert [d.text for d in Scanner().scan(frame)] == ["NEAR OR FAR"]


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (15, 17), (3, 5, 3)])
def test_scanner_returns_nothing_for_tiny_frames(shape):
    assert Scanner().scan(np.zeros(shape, np.uint8)) == []


class CountingBackend:
    """zxing-cpp that counts how often, and on what size of image, it is asked."""

    name = "zxing"

    def __init__(self) -> None:
        self.inner = ZxingBackend()
        self.calls: list[tuple[int, int]] = []

    def decode(self, gray):
        self.calls.append(gray.shape[:2])
        return self.inner.decode(gray)


def faint_code(text: str, inverted: bool = False, size=(480, 640)) -> np.ndarray:
    """A code 24 grey levels deep on a mid-grey scene, with sensor noise: a veiled screen."""
    code = flat_code(text, module_px=4, inverted=inverted).astype(np.float32)
    h, w = code.shape
    frame = np.full(size, 0.5, np.float32)
    frame[100 : 100 + h, 150 : 150 + w] = code / 255.0
    frame = 118 + (frame - 0.5) * 24
    frame = cv2.GaussianBlur(frame, (0, 0), 0.8) + np.random.default_rng(3).normal(0, 1.5, size)
    return np.clip(frame, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("inverted", "step"), [(False, "whole"), (True, "whole-invert")])
def test_scanner_reads_a_faint_code_the_region_search_passes_over(inverted, step):
    frame = faint_code("FAINT BUT THERE", inverted=inverted)
    regions_only = Scanner(whole_frame=False)
    assert regions_only.scan(frame) == []
    assert regions_only.stats.candidates == 0  # too faint for the edge test
    scanner = Scanner()
    assert [d.text for d in scanner.scan(frame)] == ["FAINT BUT THERE"]
    assert scanner.stats.step == step


def test_scanner_decodes_a_whole_empty_scene_up_to_640x480_and_larger_ones_at_half_size():
    for size, calls in (((480, 640), [(480, 640)] * 2), ((720, 1280), [(360, 640)] * 2)):
        backend = CountingBackend()
        scanner = Scanner(backend, whole_frame=True)
        assert scanner.scan(np.full(size, 120, np.uint8)) == []
        assert scanner.stats.candidates == 0
        assert backend.calls == calls


def test_scanner_with_pyzbar_does_not_decode_whole_frames_by_default():
    assert Scanner("pyzbar").whole_frame is False
    assert Scanner("zxing").whole_frame is True
    assert Scanner("zxing", ladder=False).whole_frame is False

"""Image files from outside: the size in the header is checked before anything is decoded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import segno

from kiosk.camera.capture import FileSource
from kiosk.camera.images import MAX_IMAGE_PIXELS, load_image
from kiosk.camera.scanner import scan_files
from kiosk.errors import CameraError
from tests.unit.crafted_images import jpeg_declaring, png_declaring


def test_load_image_refuses_a_png_declaring_60000_by_60000(tmp_path):
    path = png_declaring(tmp_path / "bomb.png", 60000, 60000, rows=10)
    assert path.stat().st_size < 2000
    with pytest.raises(CameraError, match=r"bomb\.png: refused.*60000x60000.*3600 megapixels"):
        load_image(path, grey=True)


def test_load_image_refuses_a_jpeg_declaring_60000_by_60000(tmp_path):
    path = jpeg_declaring(tmp_path / "bomb.jpg", 60000, 60000)
    with pytest.raises(CameraError, match=r"refused.*60000x60000"):
        load_image(path, grey=False)


def test_load_image_refuses_a_whole_image_over_the_budget(tmp_path):
    # 64 megapixels of black: about 64 KB on disk, 64 MB or more to decode
    path = png_declaring(tmp_path / "large.png", 8000, 8000)
    assert MAX_IMAGE_PIXELS < 8000 * 8000
    with pytest.raises(CameraError, match="8000x8000"):
        load_image(path, grey=True)


def test_load_image_budget_is_inclusive(tmp_path):
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.full((50, 200), 9, np.uint8))
    assert load_image(path, grey=True, max_pixels=10000).shape == (50, 200)
    assert load_image(path, grey=False, max_pixels=10000).shape == (50, 200, 3)
    with pytest.raises(CameraError, match="200x50"):
        load_image(path, grey=True, max_pixels=9999)


def test_load_image_refuses_a_file_whose_size_cannot_be_read(tmp_path):
    path = tmp_path / "mystery.png"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CameraError, match="not an image"):
        load_image(path, grey=True)


def test_load_image_refuses_a_file_far_larger_than_its_image(tmp_path):
    path = tmp_path / "padded.png"
    cv2.imwrite(str(path), np.zeros((8, 8), np.uint8))
    path.write_bytes(path.read_bytes() + bytes(2 << 20))
    with pytest.raises(CameraError, match="larger than its image"):
        load_image(path, grey=True)


def test_scan_files_reports_the_bombs_and_reads_the_files_after_them(tmp_path):
    bomb = png_declaring(tmp_path / "bomb.png", 60000, 60000, rows=10)
    jpeg = jpeg_declaring(tmp_path / "bomb.jpg", 60000, 60000)
    good = tmp_path / "pass.png"
    segno.make_qr("AFTER THE BOMB", error="m").save(good, scale=6, border=4)
    results = scan_files([bomb, jpeg, good])
    assert [r["path"] for r in results] == [str(bomb), str(jpeg), str(good)]
    assert "refused" in results[0]["error"] and results[0]["texts"] == []
    assert "refused" in results[1]["error"]
    assert results[2]["error"] is None and results[2]["texts"] == ["AFTER THE BOMB"]


def test_file_source_refuses_an_oversized_image_and_goes_on(tmp_path):
    png_declaring(tmp_path / "a.png", 60000, 60000, rows=10)
    cv2.imwrite(str(tmp_path / "b.png"), np.full((8, 8), 5, np.uint8))
    source = FileSource(tmp_path)
    with pytest.raises(CameraError, match=r"a\.png: refused"):
        source.read()
    assert int(source.read()[0, 0, 0]) == 5


def test_file_source_refuses_a_video_whose_frames_are_over_the_budget(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    writer.write(np.full((48, 64, 3), 80, np.uint8))
    writer.release()
    with pytest.raises(CameraError, match="64x48"):
        FileSource(path, max_pixels=64 * 48 - 1).read()
    assert FileSource(path, max_pixels=64 * 48).read().shape == (48, 64, 3)

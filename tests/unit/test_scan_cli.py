"""`kiosk scan`: decode image files from the command line."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import segno
from click.testing import CliRunner

from kiosk.cli import main
from tests.unit.crafted_images import png_declaring


@pytest.fixture
def images(tmp_path):
    code = tmp_path / "pass.png"
    segno.make_qr("KIOSK-PASS-0001", error="m").save(code, scale=8, border=4)
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.full((120, 160), 255, np.uint8))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    return code, empty, broken


def test_scan_cli_prints_texts_and_milliseconds(images):
    code, empty, _ = images
    result = CliRunner().invoke(main, ["scan", str(code), str(empty)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{code}: 1 code, ") and lines[0].endswith(" ms")
    assert lines[1] == "  KIOSK-PASS-0001"
    assert lines[2].startswith(f"{empty}: 0 codes, ")


def test_scan_cli_exits_zero_when_nothing_is_found(images):
    _, empty, _ = images
    result = CliRunner().invoke(main, ["scan", str(empty)])
    assert result.exit_code == 0
    assert "0 codes" in result.output


@pytest.mark.parametrize("backend", ["zxing", "pyzbar"])
def test_scan_cli_json_per_file_with_either_backend(images, backend):
    code, empty, _ = images
    result = CliRunner().invoke(
        main, ["scan", "--json", "--backend", backend, str(code), str(empty)]
    )
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.output.splitlines()]
    assert [e["path"] for e in entries] == [str(code), str(empty)]
    assert entries[0]["texts"] == ["KIOSK-PASS-0001"]
    assert entries[1]["texts"] == []
    assert all(e["error"] is None and e["ms"] >= 0 for e in entries)


def test_scan_cli_missing_and_unreadable_files_get_a_message_not_a_traceback(images, tmp_path):
    code, _, broken = images
    missing = tmp_path / "missing.png"
    result = CliRunner().invoke(main, ["scan", str(missing), str(broken), str(code)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"kiosk: {missing}: no such file" in result.stderr
    assert f"kiosk: {broken}: not an image" in result.stderr
    assert "KIOSK-PASS-0001" in result.stdout  # the good file is still read
    assert "Traceback" not in result.output


def test_scan_cli_rejects_an_unknown_backend(images):
    code, _, _ = images
    result = CliRunner().invoke(main, ["scan", "--backend", "opencv", str(code)])
    assert result.exit_code == 2
    assert "opencv" in result.output


def test_scan_cli_refuses_an_image_bomb_and_reports_every_other_file(images, tmp_path):
    code, empty, _ = images
    bomb = png_declaring(tmp_path / "bomb.png", 60000, 60000, rows=10)
    result = CliRunner().invoke(main, ["scan", str(bomb), str(code), str(empty)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"kiosk: {bomb}: refused, the image declares 60000x60000 pixels" in result.stderr
    assert "KIOSK-PASS-0001" in result.stdout
    assert f"{empty}: 0 codes" in result.stdout
    assert "Traceback" not in result.output


def test_scan_cli_json_reports_an_image_bomb_as_an_error_entry(images, tmp_path):
    code, _, _ = images
    bomb = png_declaring(tmp_path / "bomb.png", 60000, 60000, rows=10)
    result = CliRunner().invoke(main, ["scan", "--json", str(code), str(bomb)])
    assert result.exit_code == 1
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["path"] for e in entries] == [str(code), str(bomb)]
    assert entries[0]["texts"] == ["KIOSK-PASS-0001"]
    assert "60000x60000" in entries[1]["error"]

"""Printing: 300 cards from a CSV, and 300 dpi cards scanned back to the same token."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.camera.scanner import Scanner, read_image
from kiosk.cards import issue_batch
from kiosk.cli import main

NOW = datetime(2020, 2, 4, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def test_cards_300_from_csv_and_one_scans_back(tmp_path):
    rows = [f"{b}-{r:02d}{u:02d}" for b in range(1, 4) for r in range(1, 11) for u in range(1, 11)]
    csv = tmp_path / "households.csv"
    csv.write_text("household\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "cards"
    done = issue_batch(
        csv, out, Ed25519PrivateKey.generate(), 1, "t-site", 90, NOW, card_format="svg"
    )
    assert len(done) == 300 and all(row.ok for row in done)
    assert len(list(out.glob("*.svg"))) == 300 and (out / "sheet.pdf").stat().st_size > 0
    assert len((out / "issued.csv").read_text().splitlines()) == 301


def _cards(tmp_path, n=6):
    rows = tmp_path / "rows.csv"
    rows.write_text("household\n" + "".join(f"7-12{i:02d}\n" for i in range(n)), encoding="utf-8")
    return issue_batch(rows, tmp_path / "png", Ed25519PrivateKey.generate(), 1, "t-site", 90, NOW)


def test_cards_300_dpi_card_decodes_to_its_token(tmp_path):
    (card,) = _cards(tmp_path, 1)
    found = Scanner(full_frame=True).scan(read_image(card.card))
    assert [d.text for d in found] == [card.token]


def test_cards_printed_cards_scan_back_with_kiosk_scan(tmp_path):
    cards = _cards(tmp_path)
    result = CliRunner().invoke(main, ["scan", "--json", *[str(c.card) for c in cards]])
    assert result.exit_code == 0, result.output
    found = [json.loads(line)["texts"] for line in result.output.splitlines()]
    assert found == [[c.token] for c in cards]

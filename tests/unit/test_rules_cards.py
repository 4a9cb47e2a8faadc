"""Printing: 300 cards from a CSV, and a 300 dpi card scanned back to the same token.

``kiosk scan`` is not on this branch yet. Its ``scan_files`` reads such a card only some of the
time (its region search is tuned for camera frames, not ~16 px modules), so the card is read
with the whole-frame scanner here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.camera.scanner import Scanner, read_image
from kiosk.cards import issue_batch

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


def _card(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("household\n7-1201\n", encoding="utf-8")
    (card,) = issue_batch(one, tmp_path / "png", Ed25519PrivateKey.generate(), 1, "t-site", 90, NOW)
    return card


def test_cards_300_dpi_card_decodes_to_its_token(tmp_path):
    card = _card(tmp_path)
    found = Scanner(full_frame=True).scan(read_image(card.card))
    assert [d.text for d in found] == [card.token]

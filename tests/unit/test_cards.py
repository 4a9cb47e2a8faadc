"""Printable cards: every format carries a QR code that decodes back to the token."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.cards import ISSUED_NAME, SHEET_NAME, TITLES, issue_batch, write_card, write_sheet
from kiosk.errors import PassError
from kiosk.passes import Keyring, PassKind, issue_token, make_claims, verify
from kiosk.reasons import Reason

SITE = "xdm-jinwaitan"
CST = timezone(timedelta(hours=8))
NOW = datetime(2020, 2, 4, 8, 15, tzinfo=CST)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
GATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


def resident(household="7-1201", pass_id="P0007120101"):
    claims = make_claims(
        kind=PassKind.RESIDENT,
        kid=1,
        pass_id=pass_id,
        household=household,
        site=SITE,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=30),
    )
    return issue_token(claims, KEY), claims


def decode(image: np.ndarray) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def raster_svg_qr(svg: str) -> np.ndarray:
    """Draw the card's QR path (unit squares, ``M col row h n v1 h-n z``) at 8 px a module."""
    root = ET.fromstring(svg)
    path = next(el for el in root.iter() if el.tag.endswith("path"))
    runs = [tuple(map(int, m)) for m in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.get("d"))]
    assert len(runs) == path.get("d").count("M")
    size = max(c + n for c, r, n in runs) + 4
    image = np.full((size * 8, size * 8), 255, np.uint8)
    for c, r, n in runs:
        image[r * 8 : (r + 1) * 8, c * 8 : (c + n) * 8] = 0
    return image


def pdf_pages(data: bytes):
    """The pages of a PDF as a real reader (PDFium) opens them."""
    document = pdfium.PdfDocument(data)
    return [document[i] for i in range(len(document))]


def pdf_text(page) -> str:
    """The page's text as a reader extracts it (the fonts' encodings decoded)."""
    return page.get_textpage().get_text_range().replace("\r\n", "\n")


def raster_pdf_page(page, px_per_pt=3) -> np.ndarray:
    """The page as PDFium draws it, in grey."""
    return page.render(scale=px_per_pt, grayscale=True).to_numpy()


def check_xref(data: bytes) -> None:
    """Every object sits exactly where the cross-reference table says."""
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))
    assert data[start:].startswith(b"xref\n")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", data[start:])]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(b"%d 0 obj\n" % number)


def test_cards_png_card_scans_back_to_the_same_token(tmp_path):
    token, claims = resident()
    path = write_card(token, claims, tmp_path / "card.png", tz=CST)
    image = cv2.imread(str(path))
    assert image.shape[:2] == (1748, 1240)  # A6 at 300 dpi
    assert decode(image) == [token]


def test_cards_png_card_still_scans_printed_small_and_blurred(tmp_path):
    token, claims = resident()
    image = cv2.imread(str(write_card(token, claims, tmp_path / "card.png", tz=CST)))
    small = cv2.resize(image, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    assert decode(cv2.GaussianBlur(small, (3, 3), 0)) == [token]


def test_cards_png_card_with_a_chinese_household_scans(tmp_path):
    token, claims = resident(household="7号1201")
    image = cv2.imread(str(write_card(token, claims, tmp_path / "card.PNG", tz=CST)))
    assert decode(image) == [token]


def test_cards_svg_card_has_the_words_and_a_qr_that_decodes(tmp_path):
    token, claims = resident(household="7号1201")
    svg = write_card(token, claims, tmp_path / "card.svg", tz=CST).read_text(encoding="utf-8")
    texts = [el.text for el in ET.fromstring(svg).iter() if el.tag.endswith("text")]
    assert texts[:3] == ["出入证", "Resident pass", "户号 7号1201"]  # Chinese first
    assert "证号 P0007120101" in texts
    assert "有效期 2020-02-04 08:15 至 2020-03-05 08:15" in texts
    assert "出示二维码，看向测温仪，通过后请随手关门" in texts
    assert decode(raster_svg_qr(svg)) == [token]


def test_cards_carry_the_compound_name_above_the_title(tmp_path):
    token, claims = resident()
    svg = write_card(token, claims, tmp_path / "c.svg", tz=CST, site_name="金外滩小区")
    texts = [
        el.text for el in ET.fromstring(svg.read_text("utf-8")).iter() if el.tag.endswith("text")
    ]
    assert texts[:2] == ["金外滩小区", "出入证"]
    pdf = write_card(token, claims, tmp_path / "c.pdf", tz=CST, site_name="金外滩小区")
    (page,) = pdf_pages(pdf.read_bytes())
    assert pdf_text(page).splitlines()[:2] == ["金外滩小区", "出入证"]


def test_cards_svg_escapes_markup_in_fields(tmp_path):
    token, claims = resident(household="7<&>1")
    svg = write_card(token, claims, tmp_path / "card.svg", tz=CST).read_text(encoding="utf-8")
    texts = [el.text for el in ET.fromstring(svg).iter() if el.tag.endswith("text")]
    assert "户号 7<&>1" in texts


def test_cards_temporary_card_is_titled_temporary(tmp_path):
    claims = make_claims(
        kind=PassKind.TEMPORARY,
        kid=100,
        pass_id="T2002040042",
        household="7-1201",
        site=SITE,
        valid_from=NOW,
        valid_until=NOW + timedelta(hours=12),
    )
    token = issue_token(claims, GATE)
    svg = write_card(token, claims, tmp_path / "card.svg", tz=CST).read_text(encoding="utf-8")
    assert ">临时通行证<" in svg
    assert "返回时出示此证" in svg


def test_cards_validity_is_printed_in_the_time_zone_asked_for(tmp_path):
    token, claims = resident()
    svg = write_card(token, claims, tmp_path / "c.svg", tz=UTC).read_text("utf-8")
    assert "有效期 2020-02-04 00:15 至 2020-03-05 00:15" in svg


def test_cards_pdf_card_is_well_formed_with_chinese_and_a_qr_that_decodes(tmp_path):
    token, claims = resident()
    data = write_card(token, claims, tmp_path / "card.pdf", tz=CST).read_bytes()
    assert data.startswith(b"%PDF-1.")
    check_xref(data)
    assert b"/BaseFont /STSong-Light" in data and b"/Encoding /UniGB-UCS2-H" in data
    (page,) = pdf_pages(data)
    width, height = page.get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (105, 148)  # A6
    lines = pdf_text(page).splitlines()
    assert lines[:3] == ["出入证", "Resident pass", "户号 7-1201"]  # Chinese first
    assert "证号 P0007120101" in lines
    assert "有效期 2020-02-04 08:15 至 2020-03-05 08:15" in lines
    assert "出示二维码，看向测温仪，通过后请随手关门" in lines
    assert decode(raster_pdf_page(page)) == [token]


def test_cards_pdf_title_is_centred_by_its_measured_width(tmp_path):
    token, claims = resident()
    (page,) = pdf_pages(write_card(token, claims, tmp_path / "card.pdf", tz=CST).read_bytes())
    text = page.get_textpage()
    first = text.get_charbox(0)
    last = text.get_charbox(len(TITLES[PassKind.RESIDENT][0]) - 1)
    centre_mm = (first[0] + last[2]) / 2 / 72 * 25.4
    assert abs(centre_mm - 105 / 2) < 1.0


def test_cards_pdf_without_reportlab_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_reportlab(name, *args, **kwargs):
        if name.startswith("reportlab"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_reportlab)
    token, claims = resident()
    with pytest.raises(PassError, match=r"pip install 'kiosk\[print\]'"):
        write_card(token, claims, tmp_path / "card.pdf")
    write_card(token, claims, tmp_path / "card.svg")  # the other formats need nothing more
    rows = tmp_path / "rows.csv"
    rows.write_text("household\n7-1201\n", encoding="utf-8")
    with pytest.raises(PassError, match="reportlab"):
        issue_batch(rows, tmp_path / "batch", KEY, 1, SITE, 90, NOW)
    assert not (tmp_path / "batch").exists()  # refused before any card was written


def test_cards_refuse_a_token_that_does_not_say_the_claims(tmp_path):
    token, _ = resident()
    _, other = resident(household="7-1202")
    with pytest.raises(PassError, match="does not say"):
        write_card(token, other, tmp_path / "card.png")
    with pytest.raises(PassError, match="not a pass token"):
        write_card("HELLO", other, tmp_path / "card.png")
    assert list(tmp_path.iterdir()) == []


def test_cards_refuse_an_unknown_format(tmp_path):
    token, claims = resident()
    with pytest.raises(PassError, match=r"\.png, \.svg or \.pdf"):
        write_card(token, claims, tmp_path / "card.jpg")


def test_cards_sheet_puts_four_cards_on_each_a4_page(tmp_path):
    cards = [resident(pass_id=f"P000712010{n}") for n in range(1, 6)]
    data = write_sheet(cards, tmp_path / "sheet.pdf", tz=CST).read_bytes()
    check_xref(data)
    assert b"/Count 2" in data
    first, second = pdf_pages(data)
    found = decode(raster_pdf_page(first, px_per_pt=2))
    assert sorted(found) == sorted(token for token, _ in cards[:4])
    assert decode(raster_pdf_page(second, px_per_pt=2)) == [cards[4][0]]
    assert pdf_text(first).count("出入证") == 4 and pdf_text(second).count("出入证") == 1


def write_csv(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_cards_batch_issues_cards_a_sheet_and_a_list_skipping_bad_rows(tmp_path):
    source = write_csv(
        tmp_path / "households.csv",
        "\ufeffHousehold,pass_id,kind\n"
        "7-1201,,\n"
        "7-1201,,resident\n"
        "\n"
        "物业,W0001,worker\n"
        ",P9,\n"
        "8-0101,,temporary\n"
        "东门岗,,\n"
        "7-1202,P0007120101,\n"
        "7-1203,P/1,\n"
        "12345678-90,P77,\n"
        "7-1204,P0007120401,resident,extra\n",
    )
    rows = issue_batch(source, tmp_path / "out", KEY, 1, SITE, 30, NOW, card_format="svg")
    good = [row for row in rows if row.ok]
    assert [row.claims.pass_id for row in good] == ["P0007120101", "P0007120102", "W0001"]
    assert [row.claims.kind for row in good] == [PassKind.RESIDENT] * 2 + [PassKind.WORKER]
    assert [row.error for row in rows if not row.ok] == [
        "households.csv line 6: household is empty",
        "households.csv line 7: kind 'temporary' is not resident or worker"
        " (temporary passes are issued at the gate)",
        "households.csv line 8: no pass_id, and household '东门岗' is not building-room"
        " like 7-1201",
        "households.csv line 9: pass_id P0007120101 appears twice",
        "households.csv line 10: pass_id 'P/1' may hold only letters, digits, '-' and '_'",
        "households.csv line 11: household '12345678-90' is 11 bytes in UTF-8; at most 10",
        "households.csv line 12: more fields than the header has columns",
    ]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["P0007120101.svg", "P0007120102.svg", "W0001.svg", SHEET_NAME, ISSUED_NAME]
    )
    ring = Keyring()
    ring.add(1, KEY.public_key(), "resident")
    for row in good:
        assert verify(row.token, ring, site=SITE, now=NOW).reason is Reason.GRANTED
    with (out / ISSUED_NAME).open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert [(r["pass_id"], r["household"], r["kind"]) for r in listed] == [
        ("P0007120101", "7-1201", "resident"),
        ("P0007120102", "7-1201", "resident"),
        ("W0001", "物业", "worker"),
    ]
    assert listed[0]["valid_until"] == "2020-03-05T08:15:00+08:00"
    assert b"/Count 1" in (out / SHEET_NAME).read_bytes()


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("pass_id,kind\nP1,resident\n", "must name 'household'"),
        ("household,name\n7-1201,Wang\n", "must name 'household'"),
        ("", "must name 'household'"),
    ],
)
def test_cards_batch_refuses_a_csv_without_the_right_columns(tmp_path, content, complaint):
    source = write_csv(tmp_path / "h.csv", content)
    with pytest.raises(PassError, match=complaint):
        issue_batch(source, tmp_path / "out", KEY, 1, SITE, 30, NOW)


def test_cards_batch_refuses_a_csv_saved_in_gbk(tmp_path):
    source = write_csv(tmp_path / "h.csv", "household\n七号楼\n", encoding="gbk")
    with pytest.raises(PassError, match="not UTF-8"):
        issue_batch(source, tmp_path / "out", KEY, 1, SITE, 30, NOW)


def test_cards_batch_refuses_a_missing_file_and_bad_options(tmp_path):
    with pytest.raises(PassError, match="cannot read"):
        issue_batch(tmp_path / "none.csv", tmp_path / "out", KEY, 1, SITE, 30, NOW)
    source = write_csv(tmp_path / "h.csv", "household\n7-1201\n")
    with pytest.raises(PassError, match="card format"):
        issue_batch(source, tmp_path / "out", KEY, 1, SITE, 30, NOW, card_format="jpg")
    with pytest.raises(PassError, match="days must be positive"):
        issue_batch(source, tmp_path / "out", KEY, 1, SITE, 0, NOW)


@pytest.mark.slow
def test_cards_batch_of_300_households_makes_300_cards_that_scan(tmp_path):
    households = [
        f"{building}-{floor:02d}0{door}"
        for building in range(1, 26)
        for floor in range(1, 7)
        for door in (1, 2)
    ]
    source = write_csv(tmp_path / "h.csv", "household\n" + "\n".join(households) + "\n")
    rows = issue_batch(source, tmp_path / "out", KEY, 1, SITE, 30, NOW)
    assert len(rows) == 300
    assert all(row.ok for row in rows)
    assert len({row.claims.pass_id for row in rows}) == 300
    assert len(list((tmp_path / "out").glob("*.png"))) == 300
    for row in rows[::50]:
        assert decode(cv2.imread(str(row.card))) == [row.token]
    sheet = (tmp_path / "out" / SHEET_NAME).read_bytes()
    check_xref(sheet)
    assert b"/Count 75" in sheet

"""Printable pass cards (出入证 / 临时通行证) and batches of them from a households CSV.

A card is A6 portrait (105 x 148 mm, four to an A4 sheet), Chinese first: the compound's
name, the title (出入证, then in English), household, the QR code (70 mm square with its
4-module quiet zone, about 1.4 mm a module for a version 6 code), pass id, validity and short
instructions.

Formats, chosen by the file suffix:

``.svg``
    Everything, Chinese included; the viewer or printer supplies a CJK font (the text asks
    for Noto Sans CJK SC, then any sans-serif).
``.pdf``
    Everything; written with reportlab (the optional ``print`` extra: the gate itself never
    prints). Chinese is set in STSong-Light, one of the standard CJK fonts every PDF reader
    provides without embedding (Acrobat, pdf.js, PDFium, poppler with poppler-data,
    Ghostscript); Latin text is Helvetica; every run is measured by its font.
``.png``
    1240 x 1748 pixels, A6 at 300 dpi, for printing or showing on a phone: the same words
    as the other formats, Chinese first, drawn with Pillow in a CJK font found through
    fontconfig (Noto Sans CJK SC, from Debian's ``fonts-noto-cjk``, by preference).

The QR modules come from segno; the card drawing here is only rectangles and text.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import PassError
from kiosk.passes import (
    ParsedToken,
    PassClaims,
    PassKind,
    household_problem,
    issue_token,
    make_claims,
    parse_token,
    qr_for,
)

#: Card size in millimetres (A6 portrait).
CARD_W_MM, CARD_H_MM = 105.0, 148.0
#: PNG resolution.
PNG_DPI = 300
#: Side of the QR code on the card including its quiet zone, in millimetres.
QR_MM = 70.0
QUIET_ZONE = 4
#: Name of the printable sheet :func:`issue_batch` writes (A4, four cards a page).
SHEET_NAME = "sheet.pdf"
#: Name of the list of issued passes :func:`issue_batch` writes, for the roster.
ISSUED_NAME = "issued.csv"

TITLES = {
    PassKind.RESIDENT: ("出入证", "Resident pass"),
    PassKind.TEMPORARY: ("临时通行证", "Temporary pass"),
    PassKind.WORKER: ("工作人员通行证", "Staff pass"),
}
#: CJK font families for the PNG card, best first (as fontconfig names them).
PNG_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei")
INSTRUCTIONS_ZH = "出示二维码，看向测温仪，通过后请随手关门"
INSTRUCTIONS_EN = ("Show the QR code, look at the thermometer,", "then close the gate behind you.")
NOTES_ZH = {
    PassKind.RESIDENT: "一户一证，请妥善保管，勿转借他人",
    PassKind.TEMPORARY: "返回时出示此证，逾期作废",
    PassKind.WORKER: "仅限本人使用，请勿转借",
}

_A4_W_MM, _A4_H_MM = 210.0, 297.0
_MARGIN_MM = 12.0
_PT_PER_MM = 72 / 25.4
_CSV_COLUMNS = ("household", "pass_id", "kind")
_BATCH_KINDS = {"resident": PassKind.RESIDENT, "worker": PassKind.WORKER}
_SAFE_PASS_ID = re.compile(r"[A-Za-z0-9_-]+")
_BUILDING_ROOM = re.compile(r"(\d{1,4})-(\d{1,4})")


@dataclass(frozen=True)
class _Text:
    """A line of text: left edge *x* (or centred when ``x`` is None), baseline *y*, in mm."""

    x: float | None
    y: float
    size: float
    text: str


@dataclass(frozen=True)
class _Layout:
    texts: tuple[_Text, ...]
    qr_x: float
    qr_y: float
    modules: np.ndarray  # bool, True = dark, quiet zone included


def _when(moment: datetime, tz: tzinfo | None) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _layout(token: str, claims: PassClaims, tz: tzinfo | None, site_name: str = "") -> _Layout:
    """The card's lines, Chinese first: the compound's name, the title (and in English),
    the household; the QR code; the pass id, validity and instructions."""
    matrix = np.array([list(row) for row in qr_for(token).matrix], dtype=bool)
    modules = np.pad(matrix, QUIET_ZONE, constant_values=False)
    title_zh, title_en = TITLES[claims.kind]
    start, end = _when(claims.valid_from, tz), _when(claims.valid_until, tz)
    m = _MARGIN_MM
    texts = [_Text(None, 9, 4.6, site_name.strip())] if site_name.strip() else []
    texts += [
        _Text(None, 19, 9, title_zh),
        _Text(None, 24.5, 3.4, title_en),
        _Text(m, 32, 5.5, f"户号 {claims.household}"),
        _Text(m, 112, 4, f"证号 {claims.pass_id}"),
        _Text(m, 118.5, 3.4, f"有效期 {start} 至 {end}"),
        _Text(m, 127, 3.8, INSTRUCTIONS_ZH),
        _Text(m, 133, 3.4, NOTES_ZH[claims.kind]),
        _Text(m, 139.5, 2.8, INSTRUCTIONS_EN[0]),
        _Text(m, 143.5, 2.8, INSTRUCTIONS_EN[1]),
    ]
    qr_x = (CARD_W_MM - QR_MM) / 2
    return _Layout(tuple(texts), qr_x, 35.0, modules)


def _runs(modules: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """Yield (row, first column, length) of each horizontal run of dark modules."""
    for row, line in enumerate(modules):
        padded = np.concatenate(([False], line, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for first, stop in zip(edges[::2], edges[1::2], strict=True):
            yield row, int(first), int(stop - first)


# --- SVG -----------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _svg(layout: _Layout) -> str:
    module = QR_MM / layout.modules.shape[0]
    path = "".join(f"M{c} {r}h{n}v1h-{n}z" for r, c, n in _runs(layout.modules))
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_W_MM}mm" height="{CARD_H_MM}mm"'
        f' viewBox="0 0 {CARD_W_MM} {CARD_H_MM}">',
        f'<rect width="{CARD_W_MM}" height="{CARD_H_MM}" fill="#fff"/>',
        '<g font-family="Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, sans-serif"'
        ' fill="#000">',
    ]
    for line in layout.texts:
        centre = f'x="{CARD_W_MM / 2}" text-anchor="middle"'
        where = centre if line.x is None else f'x="{line.x}"'
        parts.append(f'<text {where} y="{line.y}" font-size="{line.size}">{_xml(line.text)}</text>')
    parts.append("</g>")
    parts.append(
        f'<path transform="translate({layout.qr_x} {layout.qr_y}) scale({module})"'
        f' fill="#000" shape-rendering="crispEdges" d="{path}"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- PNG -----------------------------------------------------------------------------------


def png_font() -> tuple[str, int]:
    """A CJK font for the PNG card: ``(file, face index)``, asked of fontconfig.

    :raises PassError: no font covering Chinese is installed (name the package to install).
    """
    import shutil
    import subprocess

    found: dict[str, tuple[str, int]] = {}
    if shutil.which("fc-list"):
        listing = subprocess.run(
            ["fc-list", "-f", "%{file}\t%{index}\t%{family}\n", ":lang=zh-cn:style=Regular"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
        for line in sorted(listing.splitlines()):
            path, _, rest = line.partition("\t")
            index, _, families = rest.partition("\t")
            for family in families.split(","):
                found.setdefault(family.strip(), (path, int(index or 0)))
    for family in PNG_FONTS:
        if family in found:
            return found[family]
    if found:
        return next(iter(found.values()))
    raise PassError(
        "a PNG card needs a Chinese font: install fonts-noto-cjk (or write the card as .svg "
        "or .pdf)"
    )


def _png(layout: _Layout):
    """The card as a greyscale Pillow image, 300 dpi."""
    from PIL import Image, ImageDraw, ImageFont

    px_per_mm = PNG_DPI / 25.4
    width, height = round(CARD_W_MM * px_per_mm), round(CARD_H_MM * px_per_mm)
    image = np.full((height, width), 255, dtype=np.uint8)
    count = layout.modules.shape[0]
    scale = int(QR_MM * px_per_mm) // count  # whole pixels a module, so edges stay sharp
    qr = np.where(layout.modules, 0, 255).astype(np.uint8)
    qr = np.kron(qr, np.ones((scale, scale), dtype=np.uint8))
    left = (width - qr.shape[1]) // 2
    top = round(layout.qr_y * px_per_mm)
    image[top : top + qr.shape[0], left : left + qr.shape[1]] = qr
    canvas = Image.fromarray(image, mode="L")
    draw = ImageDraw.Draw(canvas)
    path, index = png_font()
    for line in layout.texts:
        font = ImageFont.truetype(path, round(line.size * px_per_mm), index=index)
        y = round(line.y * px_per_mm)
        if line.x is None:
            draw.text((width / 2, y), line.text, fill=0, font=font, anchor="ms")
        else:
            draw.text((round(line.x * px_per_mm), y), line.text, fill=0, font=font, anchor="ls")
    return canvas


# --- PDF (reportlab, the "print" extra) ---------------------------------------------------

#: The standard CJK font every PDF reader provides without embedding.
PDF_CJK_FONT = "STSong-Light"
PDF_LATIN_FONT = "Helvetica"


def _reportlab():
    """reportlab's font registry, CID font and canvas.

    :raises PassError: reportlab is not installed (the gate itself never prints).
    """
    try:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfgen.canvas import Canvas
    except ImportError:
        raise PassError(
            "PDF cards need reportlab, kiosk's 'print' extra: pip install 'kiosk[print]'"
        ) from None
    return pdfmetrics, UnicodeCIDFont, Canvas


def _pdf_canvas(path: Path, page_w_mm: float, page_h_mm: float):
    """A reportlab canvas for *path* with the CJK font registered."""
    pdfmetrics, UnicodeCIDFont, Canvas = _reportlab()
    if PDF_CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_CJK_FONT))
    pdf = Canvas(str(path), pagesize=(page_w_mm * _PT_PER_MM, page_h_mm * _PT_PER_MM))
    pdf.setTitle(path.stem)
    return pdf


def _split_ascii(text: str) -> Iterator[tuple[bool, str]]:
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or text[index].isascii() != text[start].isascii():
            yield text[start].isascii(), text[start:index]
            start = index


def _pdf_text(pdf, line: _Text, left_mm: float, top_mm: float, page_h_mm: float) -> None:
    """Set *line*, Latin runs in Helvetica and the rest in the CJK font, each run measured."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    size = line.size * _PT_PER_MM
    runs = [
        (PDF_LATIN_FONT if ascii_run else PDF_CJK_FONT, run)
        for ascii_run, run in _split_ascii(line.text)
    ]
    width = sum(stringWidth(run, font, size) for font, run in runs)
    if line.x is None:
        x = (left_mm + CARD_W_MM / 2) * _PT_PER_MM - width / 2
    else:
        x = (left_mm + line.x) * _PT_PER_MM
    y = (page_h_mm - top_mm - line.y) * _PT_PER_MM
    for font, run in runs:
        pdf.setFont(font, size)
        pdf.drawString(x, y, run)
        x += stringWidth(run, font, size)


def _pdf_card(pdf, layout: _Layout, left_mm: float, top_mm: float, page_h_mm: float) -> None:
    pdf.setFillGray(0)
    for line in layout.texts:
        _pdf_text(pdf, line, left_mm, top_mm, page_h_mm)
    module = QR_MM / layout.modules.shape[0] * _PT_PER_MM
    x0 = (left_mm + layout.qr_x) * _PT_PER_MM
    y0 = (page_h_mm - top_mm - layout.qr_y) * _PT_PER_MM
    for r, c, n in _runs(layout.modules):
        pdf.rect(x0 + c * module, y0 - (r + 1) * module, n * module, module, stroke=0, fill=1)


# --- cards ---------------------------------------------------------------------------------


def _checked_layout(
    token: str, claims: PassClaims, tz: tzinfo | None, site_name: str = ""
) -> _Layout:
    parsed = parse_token(token)
    if not isinstance(parsed, ParsedToken):
        raise PassError(f"not a pass token: {parsed.detail}")
    if parsed.claims != claims:
        raise PassError("the token does not say what the card would print")
    return _layout(token, claims, tz, site_name)


def write_card(
    token: str,
    claims: PassClaims,
    path: str | os.PathLike[str],
    *,
    tz: tzinfo | None = None,
    site_name: str = "",
) -> Path:
    """Write a printable card for *token* to *path* (``.png``, ``.svg`` or ``.pdf``).

    :param claims: what *token* says (checked, so a card never prints another household).
    :param tz: time zone for the printed validity; ``None`` is this machine's local zone.
    :param site_name: the compound's name, printed above the title ("" prints none).
    :raises PassError: unknown suffix, *token* is not a pass saying *claims*, or (PNG) no
        Chinese font is installed.
    :raises OSError: the file cannot be written.
    """
    path = Path(path)
    _check_suffix(path)
    _write_layout(_checked_layout(token, claims, tz, site_name), path)
    return path


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise PassError(f"{path}: a card is written as .png, .svg or .pdf")


def _write_layout(layout: _Layout, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(_svg(layout), encoding="utf-8")
    elif suffix == ".pdf":
        pdf = _pdf_canvas(path, CARD_W_MM, CARD_H_MM)
        _pdf_card(pdf, layout, 0, 0, CARD_H_MM)
        pdf.save()
    else:
        _png(layout).save(path, format="PNG", dpi=(PNG_DPI, PNG_DPI))


def write_sheet(
    cards: Sequence[tuple[str, PassClaims]],
    path: str | os.PathLike[str],
    *,
    tz: tzinfo | None = None,
    site_name: str = "",
) -> Path:
    """Write *cards* (token, claims) to one PDF, four A6 cards to an A4 page, with cut lines;
    *site_name*, the compound's name, on each.

    :raises PassError: a token does not say its claims.
    """
    layouts = [_checked_layout(token, claims, tz, site_name) for token, claims in cards]
    _write_sheet(layouts, Path(path))
    return Path(path)


def _write_sheet(layouts: Sequence[_Layout], path: Path) -> None:
    pdf = _pdf_canvas(path, _A4_W_MM, _A4_H_MM)
    half_w, half_h = _A4_W_MM / 2 * _PT_PER_MM, _A4_H_MM / 2 * _PT_PER_MM
    for first in range(0, max(len(layouts), 1), 4):
        pdf.setStrokeGray(0.75)
        pdf.setLineWidth(0.3)
        pdf.line(half_w, 0, half_w, 2 * half_h)  # cut lines
        pdf.line(0, half_h, 2 * half_w, half_h)
        for slot, layout in enumerate(layouts[first : first + 4]):
            left = (slot % 2) * _A4_W_MM / 2
            top = (slot // 2) * _A4_H_MM / 2 + (_A4_H_MM / 2 - CARD_H_MM) / 2
            _pdf_card(pdf, layout, left, top, _A4_H_MM)
        pdf.showPage()
    pdf.save()


# --- batches -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRow:
    """The outcome for one CSV row: a pass and its card, or why there is none.

    :param line: line number in the CSV file (the header is line 1).
    :param error: ``None`` for a good row, else a message naming the file and line.
    """

    line: int
    household: str
    claims: PassClaims | None = None
    token: str | None = None
    card: Path | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def issue_batch(
    csv_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    private_key: Ed25519PrivateKey,
    kid: int,
    site: str,
    days: float,
    now: datetime,
    *,
    card_format: str = "png",
    site_name: str = "",
) -> list[BatchRow]:
    """Issue one pass and card per row of *csv_path*, plus a printable sheet of them all.

    The CSV (UTF-8, a BOM is fine) has a header with ``household`` and optionally ``pass_id``
    and ``kind`` (``resident``, the default, or ``worker``; temporary passes are issued at
    the gate). A missing pass id is made from a ``building-room`` household: ``7-1201``
    gives ``P0007120101``, then ``P0007120102`` for its next row. Passes are valid from *now*
    for *days* days; dates print in the time zone of *now*.

    Writes ``<pass_id>.<card_format>`` per good row, :data:`SHEET_NAME` (A4 PDF) and
    :data:`ISSUED_NAME` (pass id, household, kind, key id, validity, card file) into
    *out_dir*. A bad row is skipped with an error naming its line; the other rows go on.

    :param private_key: the committee's key; *kid* is its key id.
    :param site_name: the compound's name, printed on every card.
    :raises PassError: the file is unreadable, not UTF-8, lacks a ``household`` column or has
        an unknown one; *card_format* is not png, svg or pdf; *days* is not positive;
        reportlab (the ``print`` extra) is not installed.
    """
    csv_path = Path(csv_path)
    _reportlab()  # the sheet is a PDF: say so before any card is written
    if card_format not in ("png", "svg", "pdf"):
        raise PassError(f"card format must be png, svg or pdf, not {card_format!r}")
    if not days > 0:
        raise PassError(f"days must be positive, not {days!r}")
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PassError(f"{csv_path}: not UTF-8 (save it as 'CSV UTF-8')") from None
    except OSError as exc:
        raise PassError(f"{csv_path}: cannot read: {exc.strerror}") from None
    reader = csv.reader(text.splitlines())
    header = [name.strip().lower() for name in next(reader, [])]
    unknown = [name for name in header if name not in _CSV_COLUMNS]
    if "household" not in header or unknown:
        raise PassError(
            f"{csv_path}: the header must name 'household' and may name 'pass_id' and 'kind';"
            f" found {header}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = _read_rows(reader, header, csv_path.name)
    valid_until = now + timedelta(days=days)
    results: list[BatchRow] = []
    layouts: list[_Layout] = []
    for line, household, outcome in rows:
        if isinstance(outcome, str):
            results.append(
                BatchRow(line, household, error=f"{csv_path.name} line {line}: {outcome}")
            )
            continue
        kind, pass_id = outcome
        try:
            claims = make_claims(
                kind=kind,
                kid=kid,
                pass_id=pass_id,
                household=household,
                site=site,
                valid_from=now,
                valid_until=valid_until,
            )
        except PassError as exc:
            results.append(BatchRow(line, household, error=f"{csv_path.name} line {line}: {exc}"))
            continue
        token = issue_token(claims, private_key)
        layout = _layout(token, claims, now.tzinfo, site_name)
        card = out / f"{pass_id}.{card_format}"
        _write_layout(layout, card)
        layouts.append(layout)
        results.append(BatchRow(line, household, claims, token, card))
    good = [row for row in results if row.ok]
    _write_sheet(layouts, out / SHEET_NAME)
    _write_issued(out / ISSUED_NAME, good)
    return results


def _read_rows(
    reader: Iterator[list[str]], header: list[str], source: str
) -> list[tuple[int, str, tuple[PassKind, str] | str]]:
    """Check each CSV row: (line, household, (kind, pass id) or what is wrong)."""
    rows: list[tuple[int, str, tuple[PassKind, str] | str]] = []
    seen: set[str] = set()
    per_household: dict[str, int] = {}
    for line, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            rows.append((line, "", "more fields than the header has columns"))
            continue
        row = dict(zip(header, (value.strip() for value in values), strict=False))
        household = row.get("household", "")
        pass_id = row.get("pass_id") or None
        kind_name = (row.get("kind") or "resident").lower()
        kind = _BATCH_KINDS.get(kind_name)
        if not household:
            problem = "household is empty"
        elif household_problem(household):
            problem = household_problem(household)
        elif kind is None:
            problem = (
                f"kind {kind_name!r} is not resident or worker"
                " (temporary passes are issued at the gate)"
            )
        else:
            problem = None
        if problem is None and pass_id is None:
            number = per_household.get(household, 0) + 1
            pass_id = pass_id_for(household, number)
            if pass_id is None:
                problem = (
                    f"no pass_id, and household {household!r} is not building-room like 7-1201"
                )
            else:
                per_household[household] = number
        if problem is None and not _SAFE_PASS_ID.fullmatch(pass_id):
            problem = f"pass_id {pass_id!r} may hold only letters, digits, '-' and '_'"
        if problem is None and pass_id in seen:
            problem = f"pass_id {pass_id} appears twice"
        if problem is None:
            seen.add(pass_id)
            rows.append((line, household, (kind, pass_id)))
        else:
            rows.append((line, household, problem))
    return rows


def pass_id_for(household: str, number: int = 1, prefix: str = "P") -> str | None:
    """The pass id made from a ``building-room`` household and the pass's *number* in it:
    ``7-1201`` gives ``P0007120101`` for its first pass; None for any other household (its
    pass ids are given, not made)."""
    match = _BUILDING_ROOM.fullmatch(household)
    if match is None or not 1 <= number <= 99:
        return None
    building, room = (int(group) for group in match.groups())
    return f"{prefix}{building:04d}{room:04d}{number:02d}"


def _write_issued(path: Path, rows: Sequence[BatchRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["pass_id", "household", "kind", "kid", "valid_from", "valid_until", "card"]
        )
        for row in rows:
            claims = row.claims
            writer.writerow(
                [
                    claims.pass_id,
                    claims.household,
                    claims.kind.name.lower(),
                    claims.kid,
                    claims.valid_from.isoformat(),
                    claims.valid_until.isoformat(),
                    row.card.name,
                ]
            )

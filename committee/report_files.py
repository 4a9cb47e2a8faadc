"""The daily report as files: a one-page PDF (reportlab) and an XLSX (openpyxl), and the
chart of entries and exits by hour as SVG for the page. All three read the cells of
:func:`committee.report.cells`, so they show the same numbers as the page."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from committee.report import Report, cells, header

#: The CJK font every PDF reader provides (the gate's cards use it too).
PDF_FONT = "STSong-Light"
ENTRIES_COLOUR, EXITS_COLOUR = "#0b5cad", "#e07b00"


def chart_svg(report: Report, translate, *, width: int = 720, height: int = 260) -> str:
    """Bars of entries and exits for each hour of the day (all the report's compounds)."""
    entries, exits = report.total.entries_by_hour, report.total.exits_by_hour
    most = max([*entries, *exits, 1])
    step = next(
        s * 10**k for k in range(10) for s in (1, 2, 5) if s * 10**k * 4 >= most
    )  # four gridlines of a round size
    top = step * 4
    left, bottom, right, up = 44, 30, 8, 26
    plot_w, plot_h = width - left - right, height - bottom - up
    slot = plot_w / 24
    bar = slot * 0.38
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(translate("report.by_hour"))}" id="hour-chart">'
    ]
    for i in range(5):
        value = step * i
        y = up + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#dde3ea" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#5b6777">{value:g}</text>'
        )
    for hour in range(24):
        x = left + hour * slot + slot * 0.1
        for offset, value, colour, what in (
            (0, entries[hour], ENTRIES_COLOUR, "entries"),
            (bar, exits[hour], EXITS_COLOUR, "exits"),
        ):
            h = plot_h * value / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{up + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}" data-hour="{hour}" data-{what}="{value}">'
                f"<title>{hour:02d}:00 {value}</title></rect>"
            )
        if hour % 3 == 0:
            parts.append(
                f'<text x="{left + hour * slot + slot / 2:.1f}" y="{height - 10}" '
                f'font-size="11" text-anchor="middle" fill="#5b6777">{hour:02d}</text>'
            )
    legend = (
        (translate("report.entries"), ENTRIES_COLOUR, left),
        (translate("report.exits"), EXITS_COLOUR, left + 110),
    )
    for label, colour, x in legend:
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="16" font-size="12" fill="#1b2330">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def xlsx(report: Report, translate, title: str) -> bytes:
    """The report as one workbook: a sheet of the figures, one of the hours."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = translate("report.title")[:31]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([f"{translate('report.generated')} {report.generated_at.isoformat()}"])
    sections = cells(report, translate)
    heading = header(report, translate)
    for key, rows in sections[:-1]:
        sheet.append([])
        sheet.append([translate(key), *heading[1:]])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        for row in rows:
            sheet.append(row)
    sheet.column_dimensions["A"].width = 36
    hours = book.create_sheet(translate("report.by_hour")[:31])
    hours.append([translate("report.hour"), translate("report.entries"), translate("report.exits")])
    for row in sections[-1][1]:
        hours.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pdf(report: Report, translate, title: str) -> bytes:
    """The report on one A4 page: the figures side by side, the chart, the breakdowns."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    many = not report.single
    page = landscape(A4) if many and len(report.sites) > 3 else A4
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=title,
    )
    big = ParagraphStyle("title", fontName=PDF_FONT, fontSize=15, leading=19)
    small = ParagraphStyle("small", fontName=PDF_FONT, fontSize=7.5, leading=9.5)
    sections = cells(report, translate)
    heading = header(report, translate)
    # fit the figures of many compounds: the font shrinks with the columns
    columns = len(heading)
    size = 8 if columns <= 6 else max(4.5, 8 - (columns - 6) * 0.25)

    def table(rows, head):
        data = [head, *rows] if head else rows
        t = Table(data, repeatRows=1 if head else 0)
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), PDF_FONT, size),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2cf")),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ]
            )
        )
        return t

    story = [
        Paragraph(escape(title), big),
        Paragraph(
            escape(
                f"{translate('report.generated')} "
                f"{report.generated_at.isoformat(timespec='minutes')} · "
                f"{translate('report.note')}"
            ),
            small,
        ),
        Spacer(1, 3 * mm),
        table(sections[0][1], [translate("report.title"), *heading[1:]]),
        Spacer(1, 3 * mm),
    ]
    width = page[0] - 24 * mm
    drawing = Drawing(width, 48 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 10 * mm, 6 * mm, width - 14 * mm, 36 * mm
    chart.data = [report.total.entries_by_hour, report.total.exits_by_hour]
    chart.categoryAxis.categoryNames = [f"{h:02d}" for h in range(24)]
    chart.categoryAxis.labels.fontName = PDF_FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontName = PDF_FONT
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor(ENTRIES_COLOUR)
    chart.bars[1].fillColor = colors.HexColor(EXITS_COLOUR)
    chart.bars.strokeWidth = 0
    drawing.add(chart)
    drawing.add(
        String(
            10 * mm,
            44 * mm,
            f"{translate('report.by_hour')}: ■ {translate('report.entries')}"
            f"  □ {translate('report.exits')}",
            fontName=PDF_FONT,
            fontSize=8,
        )
    )
    story += [drawing, Spacer(1, 2 * mm)]
    breakdowns = []
    for key, rows in sections[1:4]:
        if rows:
            breakdowns.append(table(rows, [translate(key), *heading[1:]]))
    if breakdowns and not many:
        story.append(Table([breakdowns], hAlign="LEFT"))
    else:
        for part in breakdowns:
            story += [part, Spacer(1, 2 * mm)]
    doc.build(story)
    return out.getvalue()

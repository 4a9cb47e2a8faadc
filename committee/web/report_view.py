"""The daily report (日报) of one compound or the whole street, for any day: the page with
its chart, a one-page PDF and an XLSX, all from the same cells."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template
from markupsafe import Markup

from committee import report, report_files
from committee.web import i18n
from committee.web.auth import login_required, server
from committee.web.scope import day_arg, scope

bp = Blueprint("report", __name__)


def _build():
    srv = server()
    day = day_arg(srv.today())
    with srv.db.transaction() as db:
        sc = scope(db)
        sites = [sc.site] if sc.site else sc.sites
        result = report.build(db, sites, day, srv.config.tz, srv.now())
    return sc, result


def _words(key: str, **fields) -> str:
    return i18n.translate(key, g.lang, **fields)


def _title(sc, result) -> str:
    where = sc.site.name if sc.site else _words("street")
    return f"{_words('report.title')} · {where} · {result.day.isoformat()}"


@bp.get("/report")
@login_required()
def index():
    sc, result = _build()
    return render_template(
        "report.html",
        scope=sc,
        report=result,
        title=_title(sc, result),
        sections=report.cells(result, _words),
        header=report.header(result, _words),
        chart=Markup(report_files.chart_svg(result, _words)),
    )


@bp.get("/report.<kind>")
@login_required()
def download(kind: str):
    if kind not in ("pdf", "xlsx"):
        return render_template("error.html", message_key="error.not_found"), 404
    sc, result = _build()
    title = _title(sc, result)
    name = f"report-{sc.code}-{result.day.isoformat()}.{kind}"
    if kind == "pdf":
        body, mime = report_files.pdf(result, _words, title), "application/pdf"
    else:
        body = report_files.xlsx(result, _words, title)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )

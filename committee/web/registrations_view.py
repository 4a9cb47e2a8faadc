"""Registrations (健康登记): the health forms the gates uploaded, filtered by day, compound,
kind and outcome, with the minimum of personal data on screen; CSV and XLSX exports, each
recorded in the audit list."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request

from committee import audit, registrations
from committee.web import i18n
from committee.web.auth import login_required, server
from committee.web.scope import scope
from kiosk.registrations import KINDS, OUTCOMES

bp = Blueprint("registrations", __name__)


@bp.get("/registrations")
@login_required()
def index():
    srv = server()
    filters = registrations.Filters.parse(request.args, srv.today())
    number = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    with srv.db.transaction() as db:
        sc = scope(db)
        rows, more = registrations.page(db, sc.site_ids, filters, srv.config.tz, number)
    return render_template(
        "registrations.html",
        scope=sc,
        filters=filters,
        rows=rows,
        more=more,
        number=number,
        kinds=KINDS,
        outcomes=OUTCOMES,
        tz=srv.config.tz,
        retention=srv.config.retention.registration_days,
    )


@bp.get("/registrations/export.<kind>")
@login_required()
def export(kind: str):
    if kind not in ("csv", "xlsx"):
        return render_template("error.html", message_key="error.not_found"), 404
    srv = server()
    filters = registrations.Filters.parse(request.args, srv.today())
    tz = srv.config.tz
    with srv.db.transaction() as db:
        sc = scope(db)
        audit.record(
            db,
            g.viewer.name,
            "registrations.export",
            srv.now(),
            site_id=sc.site.id if sc.site else None,
            target=sc.code,
            detail={
                "from": filters.start.isoformat(),
                "to": filters.end.isoformat(),
                "kind": filters.kind,
                "outcome": filters.outcome,
                "format": kind,
            },
        )
    lang = g.lang

    def words(key: str) -> str:
        return i18n.translate(key, lang)

    items = registrations.export_rows(srv.db, sc.site_ids, filters, tz)
    name = f"registrations-{sc.code}-{filters.start}-{filters.end}"
    if kind == "csv":
        return Response(
            registrations.export_csv(items, words, tz),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        registrations.export_xlsx(items, words, tz),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )

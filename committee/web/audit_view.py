"""The audit list (admin): every change with who made it; filtered and exported as CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from flask import Blueprint, Response, g, render_template, request
from sqlalchemy import select

from committee import audit
from committee.models import AuditEntry
from committee.report import day_bounds
from committee.web import i18n
from committee.web.auth import login_required, server
from committee.web.scope import day_arg

bp = Blueprint("audit", __name__)
SHOWN = 200


def _filters():
    srv = server()
    today = srv.today()

    first = day_arg(today - timedelta(days=6), "from")
    last = max(day_arg(today, "to"), first)
    since, _ = day_bounds(first, srv.config.tz)
    _, until = day_bounds(last, srv.config.tz)
    action = (request.args.get("action") or "").strip()[:40]
    return first, last, {"since": since, "until": until, "action": action}


@bp.get("/audit")
@login_required(admin=True)
def index():
    srv = server()
    first, last, filters = _filters()
    with srv.db.transaction() as db:
        rows = list(db.scalars(audit.query(**filters).limit(SHOWN + 1)))
        for row in rows:
            _ = row.site
        actions = sorted(set(db.scalars(select(AuditEntry.action).distinct())))
    return render_template(
        "audit.html",
        rows=rows[:SHOWN],
        more=len(rows) > SHOWN,
        first=first,
        last=last,
        action=filters["action"],
        actions=actions,
        tz=srv.config.tz,
    )


@bp.get("/audit/export.csv")
@login_required(admin=True)
def export():
    srv = server()
    first, last, filters = _filters()
    tz = srv.config.tz
    lang = g.lang

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                i18n.translate(k, lang)
                for k in ("time", "audit.actor", "audit.action", "site", "audit.target")
            ]
            + [i18n.translate("audit.detail", lang)]
        )
        yield "\ufeff" + buffer.getvalue()
        for row in audit.entries(srv.db, **filters):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(
                [
                    row.at.astimezone(tz).isoformat(timespec="seconds"),
                    row.actor,
                    row.action,
                    row.site.code if row.site else "",
                    row.target,
                    json.dumps(row.detail, ensure_ascii=False),
                ]
            )
            yield buffer.getvalue()

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{first}-{last}.csv"'},
    )

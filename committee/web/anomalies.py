"""Anomalies (异常) of a day: a pass entering at two gates within minutes, a pass of another
compound, a household going out far more than usual, decisions made on an untrusted clock."""

from __future__ import annotations

from flask import Blueprint, render_template

from committee import anomalies
from committee.web.auth import login_required, server
from committee.web.scope import day_arg, scope

bp = Blueprint("anomalies", __name__)


@bp.get("/anomalies")
@login_required()
def index():
    srv = server()
    day = day_arg(srv.today())
    with srv.db.transaction() as db:
        sc = scope(db)
        found = anomalies.find(db, sc.site_ids, day, srv.config.tz, srv.config.anomalies)
    return render_template(
        "anomalies.html",
        scope=sc,
        day=day,
        found=found,
        settings=srv.config.anomalies,
        tz=srv.config.tz,
    )

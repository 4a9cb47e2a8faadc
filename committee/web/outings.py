"""Who is out (外出): passes out by household with for how long, overdue returns, households
over their exit quota today."""

from __future__ import annotations

from flask import Blueprint, render_template

from committee import outings
from committee.web.auth import login_required, server
from committee.web.scope import scope

bp = Blueprint("outings", __name__)


@bp.get("/out")
@login_required()
def index():
    srv = server()
    settings = srv.config.outings
    with srv.db.transaction() as db:
        sc = scope(db)
        out = outings.who_is_out(
            db,
            sc.site_ids,
            srv.now(),
            lookback_days=settings.lookback_days,
            return_within_h=settings.return_within_h,
        )
        over = outings.over_quota(db, sc.site_ids, srv.today(), srv.config.tz)
    by_household: dict[tuple[str, str], list] = {}
    for item in out:
        by_household.setdefault((item.site.name, item.household), []).append(item)
    return render_template(
        "outings.html",
        scope=sc,
        groups=sorted(by_household.items(), key=lambda kv: -max(o.out_s for o in kv[1])),
        count=len(out),
        overdue=sum(1 for o in out if o.overdue),
        over=over,
        limit_h=settings.return_within_h,
        tz=srv.config.tz,
    )

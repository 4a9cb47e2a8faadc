"""Households and passes (住户与出入证): the register with search, the import from the
browser (a preview, then apply), passes issued, printed, suspended, resumed and revoked, the
home observation list with where each came from, exit quotas. Every change is recorded in
the audit list with the account that made it (by the domain modules themselves)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from sqlalchemy import func, select

from committee import households, keys, observation, passes
from committee.errors import CommitteeError, ImportRefused, NotFound
from committee.models import Household, Pass, Site
from committee.web import i18n
from committee.web.auth import login_required, server
from committee.web.scope import scope

bp = Blueprint("households", __name__)

#: Households listed at once; a search narrows the list.
SHOWN = 300
#: Seconds an uploaded register waits for its "apply", and a card sheet for its download.
KEEP_S = 3600.0
UPLOAD_SUFFIXES = (".csv", ".xlsx")


def _folder(name: str) -> Path:
    folder = server().config.data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    cutoff = time.time() - KEEP_S
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    return folder


def _site_for_change(db, code: str) -> Site:
    """The site *code* when the viewer may change it; else 404."""
    site = db.scalar(select(Site).where(Site.code == code))
    if site is None or not g.viewer.sees(site.id):
        abort(404)
    return site


def _back(site_code: str, **extra):
    return redirect(url_for("households.index", site=site_code, **extra))


def _message(key: str, **fields) -> None:
    session["flash"] = i18n.translate(key, g.lang, **fields)


def _problem(text: str) -> None:
    session["flash_error"] = text


@bp.get("/households")
@login_required()
def index():
    srv = server()
    q = (request.args.get("q") or "").strip().upper()[:20]
    with srv.db.transaction() as db:
        sc = scope(db, default_all=False)
        if sc.site is None:
            return render_template("households.html", scope=sc, rows=[], q=q, observations=[])
        site = sc.site
        observation.end_expired(db, srv.today(), srv.now(), site.id)
        stmt = households.present(site.id)
        if q:
            stmt = stmt.where(Household.code.contains(q))
        rows = list(db.scalars(stmt.limit(SHOWN + 1)))
        ids = [h.id for h in rows[:SHOWN]]
        by_household: dict[int, list[Pass]] = {}
        for p in db.scalars(select(Pass).where(Pass.household_id.in_(ids)).order_by(Pass.code)):
            by_household.setdefault(p.household_id, []).append(p)
        current = observation.current(db, site.id)
        under = {o.household_id: o for o in current}
        count = db.scalar(select(func.count()).select_from(households.present(site.id).subquery()))
        has_key = keys.key_path(srv.config.keys_dir).exists()
        return render_template(  # inside the session: the rows' relations load as needed
            "households.html",
            scope=sc,
            site=site,
            rows=[(h, by_household.get(h.id, []), under.get(h.id)) for h in rows[:SHOWN]],
            more=len(rows) > SHOWN,
            total=count,
            q=q,
            observations=current,
            has_key=has_key,
            today=srv.today(),
            now=srv.now(),
            until=srv.today() + timedelta(days=13),
            cards=session.get("cards"),
            flash=session.pop("flash", None),
            flash_error=session.pop("flash_error", None),
        )


# -- the register import -----------------------------------------------------------------------


@bp.post("/households/import")
@login_required(change=True)
def import_preview():
    srv = server()
    code = request.form.get("site", "")
    upload = request.files.get("file")
    with srv.db.transaction() as db:
        site = _site_for_change(db, code)
        if upload is None or not upload.filename:
            _problem(i18n.translate("hh.import.file", g.lang))
            return _back(code)
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            _problem(f"{upload.filename}: .csv / .xlsx")
            return _back(code)
        token = secrets.token_urlsafe(16)
        path = _folder("uploads") / f"{token}{suffix}"
        upload.save(path)
        try:
            register = households.read_register(path)
        except ImportRefused as exc:
            path.unlink(missing_ok=True)
            problems = [p.replace(str(path), upload.filename) for p in exc.problems]
            message = str(exc).replace(str(path), upload.filename)
            return render_template(
                "import_preview.html",
                site=site,
                refused=message,
                problems=problems,
                change=None,
                filename=upload.filename,
            )
        change = households.plan(db, site, register)
        return render_template(
            "import_preview.html",
            site=site,
            change=change,
            token=token + suffix,
            filename=upload.filename,
            refused=None,
            problems=[],
        )


@bp.post("/households/import/apply")
@login_required(change=True)
def import_apply():
    srv = server()
    code = request.form.get("site", "")
    token = request.form.get("token", "")
    remove_missing = request.form.get("remove_missing") == "1"
    name = Path(token).name
    path = _folder("uploads") / name
    if not name or name != token or not path.exists():
        _problem(i18n.translate("hh.import.expired", g.lang))
        return _back(code)
    try:
        register = households.read_register(path)
        with srv.db.transaction() as db:
            site = _site_for_change(db, code)
            change = households.plan(db, site, register)
            if change.changes or (remove_missing and change.missing):
                households.apply(
                    db, site, change, srv.now(), remove_missing=remove_missing, actor=g.viewer.name
                )
                _message("hh.import.done")
            else:
                _message("hh.import.nothing")
    except ImportRefused as exc:
        _problem(str(exc).replace(str(path), "file"))
    finally:
        path.unlink(missing_ok=True)
    return _back(code)


# -- passes -------------------------------------------------------------------------------------


@bp.post("/passes/issue")
@login_required(change=True)
def issue():
    srv = server()
    code = request.form.get("site", "")
    household = (request.form.get("household") or "").strip().upper() or None
    try:
        days = float(request.form.get("days") or srv.config.sites.pass_days)
    except ValueError:
        days = float(srv.config.sites.pass_days)
    days = min(max(days, 1.0), 3660.0)
    try:
        key = keys.load(srv.config.keys_dir)
    except CommitteeError:
        _problem(i18n.translate("pass.no_key", g.lang))
        return _back(code)
    try:
        with srv.db.transaction() as db:
            _site_for_change(db, code)
            issued = passes.issue(
                db, key, code, srv.now(), household=household, days=days, actor=g.viewer.name
            )
    except CommitteeError as exc:
        _problem(str(exc))
        return _back(code)
    token = secrets.token_urlsafe(16)
    folder = _folder("cards") / token
    sheet = passes.print_sheet(issued, folder, tz=srv.config.tz)
    session["cards"] = {"token": token, "count": len(issued), "site": code, "name": sheet.name}
    _message("pass.issued")
    return _back(code, q=household or "")


@bp.get("/passes/cards/<token>")
@login_required(change=True)
def cards(token: str):
    """The card sheet this session issued last (the tokens are on it: nobody else's)."""
    mine = session.get("cards") or {}
    if token != mine.get("token"):
        abort(404)
    path = _folder("cards") / token / passes.SHEET
    if not path.exists():
        abort(404)
    return send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"passes-{mine.get('site', 'site')}.pdf",
    )


@bp.post("/passes/<pass_id>/<action>")
@login_required(change=True)
def change_pass(pass_id: str, action: str):
    if action not in passes.CHANGES:
        abort(404)
    srv = server()
    code = request.form.get("site", "")
    try:
        with srv.db.transaction() as db:
            _site_for_change(db, code)
            passes.change(
                db,
                pass_id,
                action,
                srv.now(),
                code,
                actor=g.viewer.name,
                site_ids=g.viewer.site_ids,
            )
    except CommitteeError as exc:
        _problem(str(exc))
    else:
        _message("pass.changed")
    return _back(code, q=request.form.get("q", ""))


# -- quotas and home observation -----------------------------------------------------------------


@bp.post("/households/<household>/quota")
@login_required(change=True)
def quota(household: str):
    srv = server()
    code = request.form.get("site", "")
    raw = (request.form.get("quota") or "").strip()
    try:
        value = int(raw) if raw else None
    except ValueError:
        _problem(i18n.translate("quota.error", g.lang))
        return _back(code)
    try:
        with srv.db.transaction() as db:
            site = _site_for_change(db, code)
            households.set_quota(db, site, household, value, srv.now(), actor=g.viewer.name)
    except CommitteeError:
        _problem(i18n.translate("quota.error", g.lang))
    return _back(code, q=request.form.get("q", ""))


def _day(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.form.get(name) or "")
    except ValueError:
        return default


@bp.post("/observation/set")
@login_required(change=True)
def observation_set():
    srv = server()
    code = request.form.get("site", "")
    household = (request.form.get("household") or "").strip().upper()
    first = _day("start", srv.today())
    last = _day("until", first + timedelta(days=13))
    try:
        with srv.db.transaction() as db:
            _site_for_change(db, code)
            observation.set_by_hand(
                db,
                code,
                household,
                last,
                first,
                srv.now(),
                actor=g.viewer.name,
                note=(request.form.get("note") or "")[:200],
            )
    except NotFound as exc:
        _problem(str(exc))
    except CommitteeError:
        _problem(i18n.translate("obs.error.dates", g.lang))
    return _back(code)


@bp.post("/observation/clear")
@login_required(change=True)
def observation_clear():
    srv = server()
    code = request.form.get("site", "")
    household = (request.form.get("household") or "").strip().upper()
    try:
        with srv.db.transaction() as db:
            _site_for_change(db, code)
            observation.clear_by_hand(db, code, household, srv.now(), actor=g.viewer.name)
    except CommitteeError as exc:
        _problem(str(exc))
    return _back(code)

"""Maintenance pages (maintenance role only): live thermometer readings and the calibration
wizard, emissivity, the camera snapshot with its focus figure and frame rate, a relay test
pulse. Everything goes through the :class:`kiosk.facade.Facade`; nothing here touches
hardware."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
)

from kiosk.errors import CalibrationError, KioskError, SensorError, UplinkError
from kiosk.ui import bodies, i18n
from kiosk.ui.auth import login_required

bp = Blueprint("maintenance", __name__, url_prefix="/maintenance")

ROLE = "maintenance"


def _facade():
    return current_app.extensions["kiosk"]


def _lanes() -> list[str]:
    return _facade().lanes()


def _refused(key: str, detail: str, status: int = 400):
    """A refusal: its words in the page's language (``message``; both in ``message_zh`` and
    ``message_en``) and the technical ``detail``, which the page keeps folded away."""
    return (
        jsonify(
            error=key,
            message=i18n.translate(f"maint.{key}", getattr(g, "lang", "zh")),
            message_zh=i18n.translate(f"maint.{key}", "zh"),
            message_en=i18n.translate(f"maint.{key}", "en"),
            detail=detail,
        ),
        status,
    )


def _no_lane(lane: str):
    return _refused("no_lane", f"no lane named {lane!r}", 404)


@bp.get("/<lane>")
@login_required(ROLE)
def page(lane: str):
    if lane not in _lanes():
        return _no_lane(lane)
    return render_template(
        "maintenance.html",
        lane=lane,
        lanes=_lanes(),
        words=json.dumps(i18n.bundle(g.lang), ensure_ascii=False),
        user=g.user,
    )


@bp.get("/<lane>/state")
@login_required(ROLE)
def state(lane: str):
    facade = _facade()
    try:
        return jsonify(
            thermometer=facade.thermometer_state(lane),
            camera=facade.camera_state(lane),
            relay=facade.relay_state(lane),
            uplink=facade.uplink_status(),
        )
    except KioskError:
        return _no_lane(lane)


@bp.get("/<lane>/camera.jpg")
@login_required(ROLE)
def camera_jpg(lane: str):
    try:
        data = _facade().camera_jpeg(lane)
    except KioskError:
        return _no_lane(lane)
    if data is None:
        return _refused("no_frame", "no frame from the camera yet", 404)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _points() -> list[tuple[float, float]]:
    """The request's one or two ``[raw °C, reference °C]`` pairs.

    :raises bodies.BadBody: anything else (answered with ``bad_points``).
    """
    return [tuple(p) for p in bodies.parse(bodies.Calibration).points]


@bp.post("/<lane>/calibration/preview")
@login_required(ROLE)
def calibration_preview(lane: str):
    """The confirm step: what the points would put in force; nothing is saved."""
    points = _points()
    return _change(lane, "refused", lambda: _facade().calibration_preview(lane, points))


@bp.post("/<lane>/calibration")
@login_required(ROLE)
def calibrate(lane: str):
    points = _points()
    return _change(lane, "refused", lambda: _facade().calibrate(lane, points=points, by=g.user))


@bp.post("/<lane>/calibration/restore")
@login_required(ROLE)
def restore_calibration(lane: str):
    """Undo the last calibration: the one before it is back in force at once."""
    return _change(lane, "no_previous", lambda: _facade().restore_calibration(lane, g.user))


@bp.post("/<lane>/emissivity")
@login_required(ROLE)
def emissivity(lane: str):
    value = bodies.parse(bodies.Emissivity).value
    return _change(lane, "bad_emissivity", lambda: _facade().set_emissivity(lane, value, g.user))


def _change(lane: str, refused: str, change):
    """Make a maintenance *change*; a refused value is *refused*, a silent sensor 503."""
    try:
        result = change()
    except CalibrationError as exc:
        return _refused(refused, str(exc))
    except SensorError as exc:
        return _refused("sensor_error", str(exc), 503)
    except KioskError:
        return _no_lane(lane)
    return jsonify(ok=True, **result)


@bp.post("/<lane>/pulse")
@login_required(ROLE)
def pulse(lane: str):
    try:
        _facade().test_pulse(lane, g.user)
    except KioskError:
        return _no_lane(lane)
    return jsonify(ok=True)


@bp.post("/<lane>/uplink/send-refused")
@login_required(ROLE)
def uplink_send_refused(lane: str):
    """Send a ``kiosk.event_refused`` in place of the held event ``seq`` (JSON body)."""
    seq = bodies.parse(bodies.SendRefused).seq
    try:
        done = _facade().uplink_send_refused(seq, g.user)
    except UplinkError as exc:
        return _refused("uplink_not_held", str(exc), 409)
    return jsonify(ok=True, **done)


@bp.post("/<lane>/uplink/push")
@login_required(ROLE)
def uplink_push(lane: str):
    """Upload now: push every unsent event at once."""
    try:
        status = _facade().uplink_push_now()
    except UplinkError as exc:
        return _refused("uplink_off", str(exc), 409)
    return jsonify(ok=True, uplink=status)


@bp.post("/<lane>/uplink/retry")
@login_required(ROLE)
def uplink_retry(lane: str):
    """Offer the held event again, or ask the server again after a conflict."""
    return jsonify(ok=True, seq=_facade().uplink_retry())

"""The resident screen: what it shows for each state (pure), that it carries no personal
data, and that it is served to the kiosk's own loopback only, without sign-in."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.lane import LaneSnapshot
from kiosk.reasons import Reason
from kiosk.resident import view
from kiosk.ui import create_app
from tests.unit.test_ui import kiosk  # noqa: F401  (the fixture: a real kiosk, fake clock)

PERSONAL = ("7-1201", "P0007120101", "guard-li")
KEYS = {
    "lane",
    "colour",
    "title",
    "title_en",
    "long",
    "action",
    "action_en",
    "temperature",
    "parcels",
    "arrow",
    "hold_s",
    "version",
}


def lane(state="idle", **kw):
    base = {"household": "7-1201", "pass_id": "P0007120101", "message_zh": "户号 7-1201"}
    snap = LaneSnapshot("main", "in", state=state, **kw).to_dict()
    return {**snap, **base, **{k: v for k, v in kw.items() if k in base}}


def test_resident_view_idle_points_at_the_camera():
    shown = view(lane())
    assert (shown["colour"], shown["title"], shown["arrow"]) == ("idle", "请出示出入证", "↓")
    assert "下方" in shown["action"]
    assert view(lane(), camera_at="left")["arrow"] == "←"


def test_resident_view_asks_for_the_pass_closer_and_says_where_the_camera_is():
    shown = view(lane(closer=True))
    assert (shown["colour"], shown["title"], shown["title_en"], shown["arrow"]) == (
        "busy",
        "请将出入证靠近摄像头",
        "Hold your pass closer to the camera",
        "↓",
    )
    assert (shown["action"], shown["action_en"]) == ("摄像头在下方", "The camera is below")
    assert shown["long"]
    above = view(lane(closer=True), camera_at="above")
    assert (above["arrow"], above["action"]) == ("↑", "摄像头在上方")
    # a pass read ends it: the lane measures
    assert view(lane("measuring", closer=False))["title"] == "请看测温区"


def test_resident_view_granted_with_temperature_and_parcels():
    parcels = {
        "household": "7-1201",
        "count": 2,
        "slots": ["A3"],
        "text": "7-1201 有 2 件快递 · A3",
    }
    shown = view(
        lane("granted", reason="GRANTED", temperature_c=36.44, parcels=parcels, hold_s=3.0)
    )
    assert shown["colour"] == "green" and shown["title"] == "请通行"
    assert shown["temperature"] == "36.4 °C" and shown["action"] == "体温正常"
    assert shown["parcels"] is True and shown["hold_s"] == 3.0
    manual = view(lane("granted", reason="GRANTED_MANUAL"))
    assert manual["action"] == "门已打开" and manual["temperature"] == ""


@pytest.mark.parametrize(
    ("reason", "title", "action"),
    [
        ("FEVER", "体温异常", "请到一旁复测"),
        ("PASS_REVOKED", "通行证已注销", "请联系居委会"),
        ("PASS_WRONG_SITE", "非本小区通行证", "请到门岗登记"),
        ("HOME_OBSERVATION", "居家观察期间", "请勿外出"),
    ],
)
def test_resident_view_refusal_says_why_and_what_to_do(reason, title, action):
    shown = view(lane("denied", reason=reason, temperature_c=38.1))
    assert (shown["colour"], shown["title"], shown["action"]) == ("red", title, action)
    assert shown["temperature"] == "" and shown["action_en"][:1].isupper()


def test_resident_view_thermometer_fault_is_amber():
    down = {"thermometer": "no answer on I2C"}
    assert view(lane(faults=down))["colour"] == "amber"
    measuring = view(lane("measuring", faults=down, manual_temperature=True))
    assert measuring["colour"] == "amber" and measuring["title"] == "请配合保安手动测温"
    assert view(lane("denied", reason="SENSOR_FAULT"))["colour"] == "amber"
    assert view(lane("measuring"))["colour"] == "busy"


@given(
    state=st.sampled_from(["idle", "measuring", "granted", "denied"]),
    reason=st.sampled_from([str(r) for r in Reason] + ["WHATEVER", None]),
    temperature=st.one_of(st.none(), st.floats(30, 45)),
    fault=st.booleans(),
)
def test_resident_view_never_carries_personal_data(state, reason, temperature, fault):
    snap = lane(
        state,
        reason=reason,
        temperature_c=temperature,
        faults={"thermometer": "7-1201 guard-li"} if fault else {},
        warnings=("ANTI_PASSBACK",),
        observation_until="2020-02-18",
    )
    snap["parcels"] = {"household": "7-1201", "text": "7-1201 有 1 件快递 · A1"}
    shown = view(snap)
    assert set(shown) == KEYS
    text = json.dumps(shown, ensure_ascii=False)
    assert not any(p in text for p in PERSONAL) and "2020-02-18" not in text


# -- the page --------------------------------------------------------------------------------


@pytest.fixture
def client(kiosk):  # noqa: F811
    return create_app(kiosk.facade, secret_key=b"k" * 32).test_client()


def test_resident_page_needs_no_sign_in_and_shows_no_household(client, kiosk):  # noqa: F811
    from kiosk.parcels import ParcelForm

    kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3"), by="guard-li")
    page = client.get("/resident/main")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "请出示出入证" in body and not any(p in body for p in PERSONAL)
    assert client.get("/resident/").headers["Location"].endswith("/resident/main")
    assert client.get("/resident/nowhere").status_code == 404
    shown = client.get("/resident/main/view").get_json()
    assert shown["colour"] == "idle"


@pytest.mark.parametrize(
    ("addr", "headers"),
    [
        ("192.168.1.20", {}),
        ("10.0.0.7", {}),
        ("127.0.0.1", {"X-Forwarded-For": "192.168.1.20"}),
        ("127.0.0.1", {"Forwarded": "for=192.168.1.20"}),
    ],
)
def test_resident_page_refuses_anyone_but_the_kiosk(client, addr, headers):
    # (the live stream, served on the event loop, is refused alike: test_screen_server.py)
    for path in ("/resident/main", "/resident/main/view", "/resident/"):
        answer = client.get(path, environ_base={"REMOTE_ADDR": addr}, headers=headers)
        assert answer.status_code == 403, path

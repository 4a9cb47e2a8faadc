"""Every JSON endpoint of the guard screen, enumerated from the app's url_map (a new endpoint
is fuzzed too), gets bodies of every shape: never a 500, always a JSON answer, a refusal with
a message in words."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import config as config_mod
from kiosk.accounts import Accounts
from kiosk.clock import FakeClock
from kiosk.sim import demo
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui import bodies, create_app

PASSWORD = "long enough 1"
#: Endpoints that take an HTML form, not JSON (CSRF token in the form, a page back).
FORM_VIEWS = {
    "auth.login",
    "auth.logout",
    "auth.switch_language",
    "registration.submit",
    "admin.push",
}
UI = Path(__file__).resolve().parents[2] / "kiosk" / "ui"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(cfg, gate=dataclasses.replace(cfg.gate, data_dir=str(tmp)))
    demo.ensure_keys(cfg.keys_dir)
    kiosk = simulated_kiosk(cfg, FakeClock())
    Accounts(kiosk.journal).add("boss", PASSWORD, "admin")  # every role's pages
    app = create_app(kiosk.facade, secret_key=b"k" * 32)
    app.config.update(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    assert client.post("/login", data={"user": "boss", "password": PASSWORD}).status_code == 302
    yield client
    kiosk.close()


def json_endpoints(app) -> list[tuple[str, str]]:
    """``(method, path)`` of every endpoint that takes a body, but the HTML forms."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in FORM_VIEWS:
            continue
        path = re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?!int:)[^>]+>", "main", rule.rule))
        out += [(m, path) for m in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"})]
    return out


#: Every field name any endpoint's schema knows, so bodies reach past the first check.
FIELDS = sorted(
    {f.name for cls in bodies.Body.__subclasses__() for f in msgspec.structs.fields(cls)}
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["36.8", "nan", "inf", "1e999", "-1", "other", "remeasured", "7-1201"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))
nested = st.integers(1, 30000).flatmap(
    lambda n: st.sampled_from(["[" * n, "[" * n + "]" * n, '{"points":' + "[" * n])
)
body_texts = st.one_of(
    json_values.map(json.dumps),
    shaped.map(json.dumps),
    nested,
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


def _answer_is_plain(response, method, path):
    assert response.status_code < 500, (method, path, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json", (method, path, response.mimetype)
    if response.status_code == 400:
        assert response.get_json()["message"], (method, path)


def test_ui_bodies_every_json_endpoint_is_found(client):
    found = json_endpoints(client.application)
    assert len(found) >= 11
    for expected in (
        "/api/lanes/main/open",
        "/api/lanes/main/temperature",
        "/api/fevers/1/ack",
        "/api/sim/main/step_in",
        "/api/fevers/1/release",
        "/api/sim/main/part",
        "/maintenance/main/calibration",
        "/maintenance/main/calibration/preview",
        "/maintenance/main/emissivity",
        "/api/passes/temporary",
        "/api/sim/shelf",
    ):
        assert ("POST", expected) in found


@pytest.mark.parametrize("text", ["[1]", '"x"', "3", "[" * 30000, "null", "{", "\x00\xff"])
def test_ui_bodies_a_body_that_is_not_an_object_gets_a_400_with_words(client, text):
    for method, path in json_endpoints(client.application):
        response = client.open(path, method=method, data=text, content_type="application/json")
        _answer_is_plain(response, method, path)
        if path.endswith(("/pulse", "/leave", "/retry", "/push")):
            continue  # these take no body: they ignore one
        assert response.status_code == 400, (method, path)
        reply = response.get_json()
        assert reply["message_zh"] and reply["message_en"] and reply["detail"]


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), text=body_texts)
def test_ui_bodies_fuzz_every_json_endpoint(client, data, text):
    method, path = data.draw(st.sampled_from(json_endpoints(client.application)))
    response = client.open(path, method=method, data=text, content_type="application/json")
    _answer_is_plain(response, method, path)


def test_ui_bodies_are_read_in_one_place():
    for path in UI.glob("*.py"):
        if path.name == "bodies.py":
            continue
        text = path.read_text()
        for reader in ("get_json(", "request.json", "request.data", "get_data("):
            assert reader not in text, (path.name, reader)

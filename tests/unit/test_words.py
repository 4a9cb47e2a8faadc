"""The catalogue has the words for everything the screens name by a key: every key a template
or a script asks for by name, every event type the gate journals, every reason, both
languages. (Keys made at run time, ``'state.' + lane.state``, are walked in the browser by
tests/e2e/test_words.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from kiosk import contract
from kiosk.reasons import Reason
from kiosk.ui.i18n import CATALOGUE

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
UI = KIOSK / "ui"


def test_words_every_key_a_template_names_is_in_the_catalogue():
    asked = set()
    for template in (UI / "templates").glob("*.html"):
        asked |= set(re.findall(r"\bt\('([a-z_][\w.]*)'\)", template.read_text("utf-8")))
    assert len(asked) > 150
    assert sorted(asked - set(CATALOGUE)) == []


def test_words_every_key_a_script_names_is_in_the_catalogue():
    asked = set()
    for script in (UI / "static").glob("*.js"):
        asked |= set(re.findall(r'\bw\("([a-z_][\w.]*)"\)', script.read_text("utf-8")))
    assert len(asked) > 40
    assert sorted(asked - set(CATALOGUE)) == []


def journaled_types() -> set[str]:
    """Every event type the gate's code journals by name."""
    found = set()
    call = re.compile(r'(?:append|_record|_door_raise)\(\s*"([a-z_]+\.[a-z_]+)"')
    for path in KIOSK.rglob("*.py"):
        if "sim" in path.relative_to(KIOSK).parts:
            continue
        found |= set(call.findall(path.read_text("utf-8")))
    return found


def test_words_every_event_type_the_gate_journals_has_a_name():
    types = journaled_types() | set(contract.EVENT_TYPES)
    assert {"access.granted", "alert.anti_passback", "door.forced", "uplink.event_replaced"} <= (
        types
    )
    assert sorted(t for t in types if f"event.{t}" not in CATALOGUE) == []


def test_words_every_reason_has_words_and_every_entry_both_languages():
    assert all(f"reason.{r.value}" in CATALOGUE for r in Reason)
    empty = [k for k, (zh, en) in CATALOGUE.items() if not zh.strip() or not en.strip()]
    assert empty == []

"""What the resident screen shows for one lane: pure, from the lane's snapshot.

The screen faces the person at the gate, so it shows **no personal data of anyone**: no
household, no pass id, no name, nothing of another person. :func:`view` builds what it shows
from a :meth:`kiosk.lane.LaneSnapshot.to_dict` and passes on only the colour, the words (the
same words the voice says, :mod:`kiosk.voice.prompts`), the person's own temperature on a
grant, whether parcels wait at the pickup point, and how long the result stays up.
"""

from __future__ import annotations

from typing import Any

from kiosk.voice.prompts import CATALOGUE, result_prompt

#: Colours of the screen: waiting for someone, measuring, let through, refused, and the
#: thermometer being faulty (the guard measures by hand).
IDLE, BUSY, GREEN, RED, AMBER = "idle", "busy", "green", "red", "amber"
#: Where the camera is, seen from the person: the words and the arrow on the idle screen.
CAMERA_AT = {
    "below": ("请将二维码对准下方摄像头", "Hold the QR code to the camera below", "↓"),
    "above": ("请将二维码对准上方摄像头", "Hold the QR code to the camera above", "↑"),
    "left": ("请将二维码对准左侧摄像头", "Hold the QR code to the camera on the left", "←"),
    "right": ("请将二维码对准右侧摄像头", "Hold the QR code to the camera on the right", "→"),
}
#: Where the camera is, for the "hold your pass closer" hint.
CAMERA_IS = {
    "below": ("摄像头在下方", "The camera is below"),
    "above": ("摄像头在上方", "The camera is above"),
    "left": ("摄像头在左侧", "The camera is on the left"),
    "right": ("摄像头在右侧", "The camera is on the right"),
}
#: Reasons shown amber rather than red: the thermometer, not the person, is the problem.
AMBER_REASONS = ("SENSOR_FAULT",)


#: A title longer than this (characters) is set smaller, so it stays on one line.
LONG_TITLE = 7


def _split(text: str, comma: str) -> tuple[str, str]:
    """``"通行证已过期，请联系居委会"`` -> (what happened, what to do); each part starts with a
    capital in English."""
    head, _, tail = text.partition(comma)
    head, tail = head.strip(), tail.strip()
    return head[:1].upper() + head[1:], tail[:1].upper() + tail[1:]


def view(lane: dict[str, Any], *, camera_at: str = "below") -> dict[str, Any]:
    """The resident screen of one lane.

    :param lane: a lane snapshot as :meth:`kiosk.lane.LaneSnapshot.to_dict` gives it.
    :param camera_at: where the camera is, as the person sees it (``below``, ``above``,
        ``left``, ``right``).
    :return: ``lane``, ``colour``, ``title`` / ``title_en`` (the big words), ``long``
        (the title is set smaller), ``action`` / ``action_en`` (what to do), ``temperature``
        (text, on a grant only), ``parcels`` (bool), ``arrow``, ``hold_s`` and ``version``;
        nothing else.
    """
    out = _view(lane, camera_at)
    out["long"] = len(out["title"]) > LONG_TITLE
    return out


def _view(lane: dict[str, Any], camera_at: str) -> dict[str, Any]:
    faults = lane.get("faults") or {}
    thermometer_down = "thermometer" in faults or bool(lane.get("manual_temperature"))
    state = lane.get("state")
    out: dict[str, Any] = {
        "lane": lane.get("name"),
        "colour": IDLE,
        "title": "",
        "title_en": "",
        "action": "",
        "action_en": "",
        "temperature": "",
        "parcels": False,
        "arrow": "",
        "hold_s": 0.0,
        "version": lane.get("version", 0),
    }
    if state in ("granted", "denied"):
        granted = state == "granted"
        prompt = result_prompt(lane.get("reason"), granted)
        out["hold_s"] = float(lane.get("hold_s") or 0.0)
        if granted:
            out["colour"] = GREEN
            out["title"], out["title_en"] = "请通行", "Please go through"
            temperature = lane.get("temperature_c")
            if prompt.name == "granted" and isinstance(temperature, int | float):
                out["action"], out["action_en"] = "体温正常", "Temperature normal"
                out["temperature"] = f"{temperature:.1f} °C"
            elif prompt.name == "granted_manual":
                out["action"], out["action_en"] = "门已打开", "The gate is open"
            out["parcels"] = bool(lane.get("parcels"))
        else:
            out["colour"] = AMBER if lane.get("reason") in AMBER_REASONS else RED
            out["title"], out["action"] = _split(prompt.zh, "，")
            out["title_en"], out["action_en"] = _split(prompt.en, ", ")
        return out
    if state == "measuring":
        prompt = CATALOGUE["manual_measure" if thermometer_down else "look_at_sensor"]
        out["colour"] = AMBER if thermometer_down else BUSY
        out["title"], out["title_en"] = prompt.zh, prompt.en
        return out
    show = CATALOGUE["show_pass"]
    words, words_en, arrow = CAMERA_AT.get(camera_at, CAMERA_AT["below"])
    out["title"], out["title_en"] = show.zh, show.en
    out["action"], out["action_en"], out["arrow"] = words, words_en, arrow
    if lane.get("closer"):  # a code in view the camera cannot read: held too far away
        closer = CATALOGUE["closer"]
        out["colour"] = BUSY
        out["title"], out["title_en"] = closer.zh, closer.en
        out["action"], out["action_en"] = CAMERA_IS.get(camera_at, CAMERA_IS["below"])
    if thermometer_down:
        manual = CATALOGUE["manual_measure"]
        out["colour"] = AMBER
        out["action"], out["action_en"] = manual.zh, manual.en
    return out

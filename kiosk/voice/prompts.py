"""The prompt catalogue and when each prompt is due: pure data and pure functions.

Every state of a lane that asks something of the person, and every reason a decision can
carry, has one prompt: a short name (also the name of its audio file, ``<name>.wav``), the
Mandarin words and English words. The resident screen shows the same words as the voice says.

:func:`cues` turns two successive :class:`kiosk.lane.LaneSnapshot` of one lane into the
prompts now due; :func:`wanted` says whether a prompt still waiting to be played applies to
the lane's latest snapshot. Nothing here does I/O or reads a clock: times are given.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.reasons import Reason

#: Kinds of prompt: guidance asks for something, a result answers a decision, a notice
#: follows a result (a parcel waiting).
GUIDE, RESULT, NOTICE = "guide", "result", "notice"
#: Lane states (as :mod:`kiosk.lane` names them).
IDLE, MEASURING, GRANTED, DENIED = "idle", "measuring", "granted", "denied"
#: How long (s) guidance may wait for the speaker before it is stale.
GUIDE_STALE_S = 3.0
#: A result is never kept waiting longer than this (s), even with a longer hold time.
RESULT_STALE_MIN_S = 2.0


@dataclass(frozen=True)
class Prompt:
    """One thing the kiosk says.

    :param name: the prompt's name and the stem of its audio files (``name.wav``,
        ``name.en.wav``).
    :param zh: the Mandarin words.
    :param en: the English words (spoken only with ``[voice] english = true``).
    :param kind: :data:`GUIDE`, :data:`RESULT` or :data:`NOTICE`.
    :param delay_s: seconds the lane must stay in the state before the prompt is spoken
        (a person who is through in half a second hears only the result).
    """

    name: str
    zh: str
    en: str
    kind: str
    delay_s: float = 0.0

    def text(self, english: bool = False) -> str:
        """The words spoken: Mandarin, then English when *english*."""
        return f"{self.zh} {self.en}" if english else self.zh


_ALL = (
    # guidance
    Prompt("show_pass", "请出示出入证", "Please show your pass", GUIDE, 1.0),
    Prompt("closer", "请将出入证靠近摄像头", "Hold your pass closer to the camera", GUIDE),
    Prompt("look_at_sensor", "请看测温区", "Please look at the thermometer", GUIDE, 0.8),
    Prompt(
        "manual_measure", "请配合保安手动测温", "Please let the guard take your temperature", GUIDE
    ),
    # results
    Prompt("granted", "体温正常，请通行", "Temperature normal, please go through", RESULT),
    Prompt("granted_manual", "门已打开，请通行", "The gate is open, please go through", RESULT),
    Prompt("fever", "体温异常，请到一旁复测", "Temperature high, please step aside", RESULT),
    Prompt("hold_still", "请保持不动，重新测温", "Please hold still, measuring again", RESULT),
    Prompt("measure_again", "测温异常，请重新测温", "Please measure again", RESULT),
    Prompt(
        "no_temperature", "未测到体温，请靠近测温区", "No temperature, please step closer", RESULT
    ),
    Prompt("not_a_pass", "无法识别，请出示出入证", "Not a pass, please show your pass", RESULT),
    Prompt(
        "pass_invalid",
        "通行证无效，请到门岗登记",
        "Pass not valid, please register at the gate",
        RESULT,
    ),
    Prompt(
        "pass_expired",
        "通行证已过期，请联系居委会",
        "Pass expired, please contact the committee",
        RESULT,
    ),
    Prompt(
        "pass_not_yet_valid",
        "通行证尚未生效，请联系居委会",
        "Pass not valid yet, please contact the committee",
        RESULT,
    ),
    Prompt(
        "pass_revoked",
        "通行证已注销，请联系居委会",
        "Pass revoked, please contact the committee",
        RESULT,
    ),
    Prompt(
        "pass_suspended",
        "通行证已暂停，请联系居委会",
        "Pass suspended, please contact the committee",
        RESULT,
    ),
    Prompt(
        "pass_unknown",
        "通行证未登记，请联系居委会",
        "Pass not registered, please contact the committee",
        RESULT,
    ),
    Prompt(
        "pass_wrong_site",
        "非本小区通行证，请到门岗登记",
        "Not a pass of this compound, please register at the gate",
        RESULT,
    ),
    Prompt(
        "pass_used",
        "临时通行证已使用，请到门岗登记",
        "Temporary pass used, please register at the gate",
        RESULT,
    ),
    Prompt(
        "home_observation", "居家观察期间，请勿外出", "Home observation, please stay in", RESULT
    ),
    Prompt(
        "anti_passback",
        "该通行证已进入，请到门岗",
        "Pass already used to enter, please see the guard",
        RESULT,
    ),
    Prompt("quota_exceeded", "今日外出次数已用完", "No outings left today", RESULT),
    Prompt(
        "outside_hours",
        "当前时段不可通行，请到门岗",
        "Not allowed at this hour, please see the guard",
        RESULT,
    ),
    Prompt("clock_untrusted", "系统时间未校准，请到门岗", "Please see the guard", RESULT),
    Prompt(
        "sensor_fault",
        "测温设备故障，请配合保安手动测温",
        "Thermometer fault, please let the guard measure you",
        RESULT,
    ),
    Prompt(
        "not_recording",
        "暂停自动通行，请到门岗",
        "Automatic entry paused, please see the guard",
        RESULT,
    ),
    Prompt("denied", "不予通行，请到门岗", "Not allowed, please see the guard", RESULT),
    # notices
    Prompt("parcel_waiting", "您有快递在取件处", "You have a parcel at the pickup point", NOTICE),
)

#: Every prompt by name.
CATALOGUE: dict[str, Prompt] = {p.name: p for p in _ALL}

#: The result prompt of every reason code.
REASON_PROMPTS: dict[Reason, str] = {
    Reason.GRANTED: "granted",
    Reason.GRANTED_MANUAL: "granted_manual",
    Reason.FEVER: "fever",
    Reason.TEMP_UNSTABLE: "hold_still",
    Reason.TEMP_IMPLAUSIBLE: "measure_again",
    Reason.NO_TEMPERATURE: "no_temperature",
    Reason.PASS_MALFORMED: "not_a_pass",
    Reason.PASS_BAD_SIGNATURE: "pass_invalid",
    Reason.PASS_UNKNOWN_KEY: "pass_invalid",
    Reason.PASS_WRONG_KEY: "pass_invalid",
    Reason.PASS_EXPIRED: "pass_expired",
    Reason.PASS_NOT_YET_VALID: "pass_not_yet_valid",
    Reason.PASS_REVOKED: "pass_revoked",
    Reason.PASS_SUSPENDED: "pass_suspended",
    Reason.PASS_UNKNOWN: "pass_unknown",
    Reason.PASS_WRONG_SITE: "pass_wrong_site",
    Reason.PASS_USED: "pass_used",
    Reason.HOME_OBSERVATION: "home_observation",
    Reason.ANTI_PASSBACK: "anti_passback",
    Reason.QUOTA_EXCEEDED: "quota_exceeded",
    Reason.OUTSIDE_HOURS: "outside_hours",
    Reason.CLOCK_UNTRUSTED: "clock_untrusted",
    Reason.SENSOR_FAULT: "sensor_fault",
    Reason.JOURNAL_UNWRITABLE: "not_recording",
}


def result_prompt(reason: str | None, granted: bool) -> Prompt:
    """The result prompt for a decision with *reason*; an unknown reason gets the generic
    ``granted`` or ``denied``."""
    try:
        return CATALOGUE[REASON_PROMPTS[Reason(reason)]]
    except (KeyError, ValueError):
        return CATALOGUE["granted" if granted else "denied"]


@dataclass(frozen=True)
class Cue:
    """A prompt due for one lane.

    :param made: monotonic time (s) of the snapshot that made it.
    :param due: not to be spoken before this (``made + delay_s``).
    :param stale: not to be spoken after this: the person has moved on.
    :param result_no: the lane's result counter when it was made.
    :param state: the lane's state when it was made.
    """

    lane: str
    prompt: Prompt
    made: float
    due: float
    stale: float
    result_no: int
    state: str


def _cue(snap, prompt: Prompt, now: float, stale_s: float) -> Cue:
    due = now + prompt.delay_s
    return Cue(snap.name, prompt, now, due, due + stale_s, snap.result_no, snap.state)


def cues(prev, snap, now: float) -> list[Cue]:
    """The prompts that *snap* (a :class:`kiosk.lane.LaneSnapshot`) makes due, given the
    lane's previous snapshot *prev* (``None`` for the first one), at monotonic *now*.

    - a new result (the lane's ``result_no`` moved on, granted or denied): its result prompt,
      then, when granted, ``parcel_waiting`` if the household has parcels at the pickup point;
    - the lane starts measuring: ``look_at_sensor`` (after a short delay), or
      ``manual_measure`` when the thermometer is faulty;
    - the idle lane's camera sees a code it cannot read (``closer`` rises): ``closer``, at
      once (the camera has already watched it for 0.4 s); the lane raises it once a person;
    - someone steps up to an idle lane: ``show_pass`` (after a delay, so a person who shows
      the pass at once never hears it).
    """
    before = prev.result_no if prev is not None else 0
    if snap.state in (GRANTED, DENIED) and snap.result_no != before:
        stale = max(snap.hold_s, RESULT_STALE_MIN_S)
        out = [_cue(snap, result_prompt(snap.reason, snap.state == GRANTED), now, stale)]
        if snap.state == GRANTED and snap.parcels:
            out.append(_cue(snap, CATALOGUE["parcel_waiting"], now, stale + 3.0))
        return out
    if snap.state == MEASURING:
        was = prev is not None and prev.state == MEASURING and prev.result_no == snap.result_no
        if snap.manual_temperature and not (was and prev.manual_temperature):
            return [_cue(snap, CATALOGUE["manual_measure"], now, GUIDE_STALE_S)]
        if not was and not snap.manual_temperature:
            return [_cue(snap, CATALOGUE["look_at_sensor"], now, GUIDE_STALE_S)]
        return []
    if snap.state == IDLE and snap.closer and not (prev is not None and prev.closer):
        return [_cue(snap, CATALOGUE["closer"], now, GUIDE_STALE_S)]
    if snap.state == IDLE and snap.present and not (prev is not None and prev.present):
        return [_cue(snap, CATALOGUE["show_pass"], now, GUIDE_STALE_S)]
    return []


def wanted(cue: Cue, snap) -> bool:
    """Whether *cue*, still waiting, applies to its lane's latest snapshot *snap*.

    Guidance holds while the lane stays in the state it was made for (``closer`` while the
    lane still asks for it; ``show_pass`` while someone is there and is not being asked to
    come closer); a result or notice holds until the next result.
    """
    if snap.result_no != cue.result_no:
        return False
    if cue.prompt.kind != GUIDE:
        return True
    if snap.state != cue.state:
        return False
    if cue.prompt.name == "manual_measure":
        return snap.manual_temperature
    if cue.prompt.name == "look_at_sensor":
        return not snap.manual_temperature
    if cue.prompt.name == "closer":
        return snap.closer
    return snap.present and not snap.closer

"""Reason codes: every decision at the gate carries one, with words for people.

Pure data; imported by policy, passes and the UI alike.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    GRANTED = "GRANTED"
    GRANTED_MANUAL = "GRANTED_MANUAL"
    FEVER = "FEVER"
    TEMP_UNSTABLE = "TEMP_UNSTABLE"
    TEMP_IMPLAUSIBLE = "TEMP_IMPLAUSIBLE"
    NO_TEMPERATURE = "NO_TEMPERATURE"
    PASS_MALFORMED = "PASS_MALFORMED"
    PASS_BAD_SIGNATURE = "PASS_BAD_SIGNATURE"
    PASS_UNKNOWN_KEY = "PASS_UNKNOWN_KEY"
    PASS_WRONG_KEY = "PASS_WRONG_KEY"
    PASS_EXPIRED = "PASS_EXPIRED"
    PASS_NOT_YET_VALID = "PASS_NOT_YET_VALID"
    PASS_REVOKED = "PASS_REVOKED"
    PASS_SUSPENDED = "PASS_SUSPENDED"
    PASS_UNKNOWN = "PASS_UNKNOWN"
    PASS_WRONG_SITE = "PASS_WRONG_SITE"
    PASS_USED = "PASS_USED"
    HOME_OBSERVATION = "HOME_OBSERVATION"
    ANTI_PASSBACK = "ANTI_PASSBACK"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    OUTSIDE_HOURS = "OUTSIDE_HOURS"
    CLOCK_UNTRUSTED = "CLOCK_UNTRUSTED"
    SENSOR_FAULT = "SENSOR_FAULT"
    JOURNAL_UNWRITABLE = "JOURNAL_UNWRITABLE"


#: (Chinese, English) words shown to the guard and the resident for each reason.
MESSAGES: dict[Reason, tuple[str, str]] = {
    Reason.GRANTED: ("请通行", "Please go through"),
    Reason.GRANTED_MANUAL: ("人工放行", "Opened by the guard"),
    Reason.FEVER: ("体温异常，请联系门卫", "Temperature too high: please see the guard"),
    Reason.TEMP_UNSTABLE: ("请保持不动，重新测温", "Hold still: measuring again"),
    Reason.TEMP_IMPLAUSIBLE: ("测温异常，请重新测温", "Reading not plausible: measure again"),
    Reason.NO_TEMPERATURE: ("未测到体温，请靠近测温", "No temperature: step closer to the sensor"),
    Reason.PASS_MALFORMED: ("无法识别的通行证", "This is not a pass"),
    Reason.PASS_BAD_SIGNATURE: ("通行证无效（签名错误）", "Pass not valid (bad signature)"),
    Reason.PASS_UNKNOWN_KEY: ("通行证无效（未知签发方）", "Pass not valid (unknown issuer)"),
    Reason.PASS_WRONG_KEY: ("通行证无效（签发方不符）", "Pass not valid (wrong issuer)"),
    Reason.PASS_EXPIRED: ("通行证已过期", "Pass expired"),
    Reason.PASS_NOT_YET_VALID: ("通行证尚未生效", "Pass not valid yet"),
    Reason.PASS_REVOKED: ("通行证已注销", "Pass revoked"),
    Reason.PASS_SUSPENDED: ("通行证已暂停", "Pass suspended"),
    Reason.PASS_UNKNOWN: ("通行证未登记", "Pass not on the roster"),
    Reason.PASS_WRONG_SITE: ("非本小区通行证", "Pass of another compound"),
    Reason.PASS_USED: ("临时通行证已使用", "Temporary pass already used"),
    Reason.HOME_OBSERVATION: ("居家观察期间，请勿外出", "Home observation: please stay in"),
    Reason.ANTI_PASSBACK: ("该通行证已使用，请勿重复使用", "Pass already used this way"),
    Reason.QUOTA_EXCEEDED: ("今日外出次数已用完", "No outings left for this household"),
    Reason.OUTSIDE_HOURS: ("当前时段不可通行", "Not allowed at this hour"),
    Reason.CLOCK_UNTRUSTED: ("系统时间未校准，请找门卫", "Clock not synchronised: see the guard"),
    Reason.SENSOR_FAULT: ("测温设备故障，请找门卫", "Thermometer fault: please see the guard"),
    Reason.JOURNAL_UNWRITABLE: ("系统无法记录，请找门卫", "Cannot record: please see the guard"),
}
#: Words that depend on the lane's direction: ``(reason, direction) -> (Chinese, English)``.
DIRECTED: dict[tuple[Reason, str], tuple[str, str]] = {
    (Reason.ANTI_PASSBACK, "in"): ("该通行证已进入，请勿重复使用", "Pass already used to enter"),
    (Reason.ANTI_PASSBACK, "out"): ("该通行证已外出，请勿重复使用", "Pass already used to go out"),
}


def message(reason: Reason | str, direction: str | None = None) -> tuple[str, str]:
    """Return the (Chinese, English) words for *reason*, on a lane of *direction* (``"in"``
    or ``"out"``) where the words differ; unknown codes get a generic text."""
    try:
        code = Reason(reason)
    except ValueError:
        return ("不予通行", "Not allowed")
    return DIRECTED.get((code, direction or ""), MESSAGES[code])

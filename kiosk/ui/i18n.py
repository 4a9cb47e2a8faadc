"""The one catalogue of words on the guard screen: Chinese first, English one tap away."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

CATALOGUE: dict[str, tuple[str, str]] = {
    "app.title": ("小区门岗", "Compound gate"),
    "login.title": ("门卫登录", "Guard sign-in"),
    "login.user": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.throttled": ("尝试次数过多，请稍后再试", "Too many attempts: try again later"),
    "logout": ("退出", "Sign out"),
    "lang.switch": ("English", "中文"),
    "lane": ("通道", "Lane"),
    "direction.in": ("进", "In"),
    "direction.out": ("出", "Out"),
    "state.idle": ("等待", "Waiting"),
    "state.measuring": ("测温中", "Measuring"),
    "state.granted": ("放行", "Granted"),
    "state.denied": ("拒绝", "Denied"),
    "household": ("户号", "Household"),
    "temperature": ("体温", "Temperature"),
    "ambient": ("环境温度", "Ambient"),
    "person.present": ("有人", "Person present"),
    "relay.open": ("门已开", "Gate open"),
    "fault": ("故障", "Fault"),
    "manual.temperature": ("手动测温", "Manual temperature"),
    "open.button": ("人工开门", "Open by hand"),
    "open.reason": ("开门原因", "Reason"),
    "open.reason.ambulance": ("救护/紧急", "Ambulance / emergency"),
    "open.reason.elderly": ("老人/行动不便", "Elderly / limited mobility"),
    "open.reason.resident_known": ("熟识住户，忘带证", "Known resident, pass forgotten"),
    "open.reason.other": ("其他", "Other"),
    "open.confirm": ("确认开门", "Open now"),
    "cancel": ("取消", "Cancel"),
    "recent": ("最近记录", "Recent events"),
    "roster": ("名册", "Roster"),
    "roster.none": ("尚未收到名册", "No roster yet"),
    "sim.title": ("模拟（演示）", "Simulate (demo)"),
    "sim.pass": ("出示的二维码", "Code shown"),
    "sim.custom": ("自定义文本", "Custom text"),
    "sim.nopass": ("（不出示）", "(none)"),
    "sim.forehead": ("额温 °C", "Forehead °C"),
    "sim.step_in": ("走到闸机前", "Step in"),
    "sim.leave": ("离开", "Leave"),
    "error.csrf": ("页面已过期，请刷新", "Page expired: reload"),
    "error.forbidden": ("无权访问", "Not allowed"),
    "error.bad_input": ("输入有误", "Bad input"),
    "event.pass.scanned": ("扫码", "Pass scanned"),
    "event.temperature.measured": ("测温", "Temperature"),
    "event.access.granted": ("放行", "Granted"),
    "event.access.denied": ("拒绝", "Denied"),
    "event.alert.fever": ("发热警报", "Fever alarm"),
    "event.alert.sensor_fault": ("设备故障", "Sensor fault"),
    "event.gate.manual_open": ("人工开门", "Opened by hand"),
    "event.kiosk.started": ("系统启动", "Kiosk started"),
    "event.kiosk.stopped": ("系统停止", "Kiosk stopped"),
    "event.auth.login": ("登录", "Sign-in"),
    "event.auth.login_failed": ("登录失败", "Failed sign-in"),
    # -- thermometer and camera maintenance --
    "ambient.low": ("环境温度低：请测手腕", "Ambient low: measure the wrist"),
    "event.calibration.changed": ("测温仪校准", "Thermometer calibrated"),
}


def translate(key: str, lang: str) -> str:
    """The word for *key* in *lang*; the key itself when the catalogue lacks it."""
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def bundle(lang: str) -> dict[str, str]:
    """The whole catalogue in *lang*, for the page's script."""
    return {k: translate(k, lang) for k in CATALOGUE}

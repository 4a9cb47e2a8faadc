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
    "maint.uplink": ("居委会上传", "Committee upload"),
    "maint.uplink.state": ("状态", "State"),
    "maint.uplink.unsent": ("未上传记录", "Unsent events"),
    "maint.uplink.last_success": ("上次成功", "Last success"),
    "maint.uplink.last_error": ("上次错误", "Last error"),
    "maint.uplink.next": ("下次尝试", "Next attempt"),
    "maint.uplink.ok": ("正常", "OK"),
    "maint.uplink.disabled": ("未配置", "Not configured"),
    "maint.uplink.backing_off": ("连接失败，稍后重试", "Unreachable: retrying"),
    "maint.uplink.auth_refused": ("令牌被拒绝", "Token refused"),
    "maint.uplink.quarantined": ("有记录被拒收，已暂停", "A record was refused: held"),
    "event.kiosk.started": ("系统启动", "Kiosk started"),
    "event.kiosk.stopped": ("系统停止", "Kiosk stopped"),
    "event.auth.login": ("登录", "Sign-in"),
    "event.auth.login_failed": ("登录失败", "Failed sign-in"),
    # -- thermometer and camera maintenance --
    "ambient.low": ("环境温度低：请测手腕", "Ambient low: measure the wrist"),
    "event.calibration.changed": ("测温仪校准", "Thermometer calibrated"),
    "maint.title": ("设备维护", "Maintenance"),
    "maint.thermometer": ("测温仪", "Thermometer"),
    "maint.raw": ("原始额温", "Raw object"),
    "maint.calibrated": ("校准后", "Calibrated"),
    "maint.samples": ("采样/秒", "Samples/s"),
    "maint.calibration": ("当前校准", "Calibration in use"),
    "maint.drift": ("漂移监测", "Drift watch"),
    "maint.check_due": ("需要校准检查", "Calibration check due"),
    "maint.check_ok": ("无需检查", "No check due"),
    "maint.wizard": ("校准向导", "Calibration wizard"),
    "maint.wizard.help": (
        "将测温仪对准参考源（黑体或经体温计测量的皮肤），读数稳定后点“采集”，再输入参考温度。一点为偏移校准，两点为两点校准。",
        "Aim the sensor at the reference (black body, or skin measured with a clinical"
        " thermometer); when the reading is steady press Capture, then type the reference"
        " value. One point corrects the offset, two points the gain and offset.",
    ),
    "maint.point": ("校准点", "Point"),
    "maint.capture": ("采集", "Capture"),
    "maint.reference": ("参考温度 °C", "Reference °C"),
    "maint.raw_c": ("原始读数 °C", "Raw °C"),
    "maint.apply": ("保存并应用", "Save and apply"),
    "maint.applied": ("已保存并应用", "Saved and applied"),
    "maint.emissivity": ("发射率", "Emissivity"),
    "maint.set": ("设置", "Set"),
    "maint.camera": ("摄像头", "Camera"),
    "maint.focus": ("清晰度", "Focus"),
    "maint.fps": ("帧率", "Frame rate"),
    "maint.decode_ms": ("解码耗时 ms", "Decode ms"),
    "maint.pulse": ("继电器测试（开门一次）", "Relay test pulse (opens the gate)"),
    "maint.pulsed": ("已发出测试脉冲", "Test pulse sent"),
    "maint.ok": ("正常", "OK"),
    "maint.refused": (
        "校准被拒绝：修正量超出限值，请检查传感器和参考源",
        "Calibration refused: the correction is beyond the limit; check the sensor and the"
        " reference",
    ),
    "maint.bad_points": (
        "请填写一个或两个校准点（原始读数与参考温度）",
        "Give one or two points (raw and reference)",
    ),
    "maint.bad_emissivity": (
        "发射率须为 0.1 到 1.0 之间的数",
        "Emissivity must be a number from 0.1 to 1.0",
    ),
    "maint.sensor_error": ("传感器无响应", "The sensor does not answer"),
    "maint.no_lane": ("没有这个通道", "No such lane"),
    "maint.no_frame": ("摄像头尚无画面", "No frame from the camera yet"),
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

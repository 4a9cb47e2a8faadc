from datetime import time
from pathlib import Path

import pytest

from kiosk import config
from kiosk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    path = tmp_path / "k.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_shipped_files_load():
    demo = config.load(ROOT / "config" / "demo.toml")
    assert demo.gate.hardware == "sim"
    assert set(demo.lanes) == {"main", "exit"}
    assert demo.lanes["exit"].direction == "out"
    real = config.load(ROOT / "config" / "kiosk.toml")
    assert real.gate.hardware == "pi"
    assert real.lanes["main"].thermometer.address == 0x5A
    assert real.lanes["main"].camera.fourcc == "MJPG"


def test_config_kiosk_toml_documents_every_key():
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    cfg = config.load(ROOT / "config" / "kiosk.toml")
    import dataclasses

    def keys(obj):
        for f in dataclasses.fields(obj):
            if f.name == "path":
                continue
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                yield from keys(value)
            elif isinstance(value, dict):
                for lane in value.values():
                    yield from keys(lane)
            else:
                yield f.name

    # a key is shown set, or commented out where "unset" is its meaning (a pin not fitted)
    missing = [k for k in set(keys(cfg)) if f"\n{k} =" not in text and f"\n# {k} =" not in text]
    assert missing == []


def test_config_defaults_without_lanes(tmp_path):
    cfg = config.load(write(tmp_path, '[gate]\ndata_dir = "data"\nhardware = "sim"\n'))
    assert list(cfg.lanes) == ["main"]
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.keys_dir == tmp_path / "data" / "keys"
    assert cfg.screening.threshold_c == 37.3


def test_config_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "[screening]\nthreshhold_c = 37.5\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "threshhold_c" in msg
    assert "did you mean 'threshold_c'" in msg


def test_config_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'gates'.*did you mean 'gate'"):
        config.load(write(tmp_path, "[gates]\n"))


def test_config_wrong_type_names_file_and_key(tmp_path):
    path = write(tmp_path, '[lanes.main.relay]\npin = "seventeen"\n')
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(path) in str(err.value)
    assert "lanes.main.relay.pin" in str(err.value)


def test_config_bad_value_names_section(tmp_path):
    path = write(tmp_path, "[lanes.main.relay]\nopen_s = 20.0\nmax_open_s = 10.0\n")
    with pytest.raises(ConfigError, match=r"\[lanes.main.relay\].*open_s"):
        config.load(path)
    with pytest.raises(ConfigError, match="threshold_c"):
        config.load(write(tmp_path, "[screening]\nthreshold_c = 73.3\n"))
    with pytest.raises(ConfigError, match="direction"):
        config.load(write(tmp_path, '[lanes.main]\ndirection = "sideways"\n'))


def test_config_nested_settings_errors_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"lanes.main.camera.*backend"):
        config.load(write(tmp_path, '[lanes.main.camera]\nbackend = "magic"\n'))
    with pytest.raises(ConfigError, match=r"lanes.main.thermometer.*window"):
        config.load(write(tmp_path, "[lanes.main.thermometer]\nwindow = 0\n"))


def test_config_not_toml_and_missing(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[gate\n"))
    with pytest.raises(ConfigError, match="no such configuration file"):
        config.load(tmp_path / "absent.toml")


def test_config_rejects_nan_and_bool_for_numbers(tmp_path):
    with pytest.raises(ConfigError, match="finite"):
        config.load(write(tmp_path, "[screening]\nthreshold_c = nan\n"))
    with pytest.raises(ConfigError, match="whole number"):
        config.load(write(tmp_path, "[ui]\nport = true\n"))


def test_config_bad_lane_names(tmp_path):
    with pytest.raises(ConfigError, match="at least one"):
        config.load(write(tmp_path, "lanes = {}\n"))
    with pytest.raises(ConfigError, match="short identifier"):
        config.load(write(tmp_path, '[lanes."two words"]\n'))


def test_config_pi_needs_each_camera_named_sim_defaults_to_the_simulated_one(tmp_path):
    with pytest.raises(ConfigError, match=r"\[lanes.main.camera\] source: required on a Pi"):
        config.load(write(tmp_path, '[gate]\ndata_dir = "data"\n'))
    pi = '[lanes.main.camera]\nsource = "/dev/video0"\n[lanes.exit]\ndirection = "out"\n'
    with pytest.raises(ConfigError, match=r"\[lanes.exit.camera\] source: required") as err:
        config.load(write(tmp_path, pi + "[lanes.exit.thermometer]\naddress = 0x5B\n"))
    assert "lanes.main.camera" not in str(err.value)
    sim = config.load(write(tmp_path, '[gate]\nhardware = "sim"\n[lanes.main]\n'))
    assert sim.lanes["main"].camera.source == "sim"


def test_config_refuses_two_lanes_on_one_thermometer(tmp_path):
    text = '[gate]\nhardware = "sim"\n[lanes.main]\n[lanes.exit]\ndirection = "out"\n'
    with pytest.raises(ConfigError, match=r"\[lanes.exit.thermometer\] address: bus 1 address "
                       r"0x5a is already used by lane 'main'"):  # fmt: skip
        config.load(write(tmp_path, text))
    other_bus = text + "[lanes.exit.thermometer]\nbus = 3\n"
    assert config.load(write(tmp_path, other_bus)).lanes["exit"].thermometer.bus == 3


def test_config_reports_every_problem_of_a_file_at_once(tmp_path):
    path = write(
        tmp_path,
        '[gate]\nhardware = "simulated"\ngate_id = ""\n'
        "[screening]\nthreshhold_c = 37.5\n"
        '[ui]\nport = "8080"\n'
        "[lanes.main.relay]\nopen_s = 0.0\nmax_open_s = 90.0\n"
        '[lanes.main.camera]\nbackend = "magic"\n',
    )
    with pytest.raises(ConfigError) as err:
        config.load(path)
    lines = str(err.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert [line.removeprefix(f"{path}: ") for line in lines] == [
        "[gate] hardware: one of 'sim', 'pi', not 'simulated'",
        "[gate] gate_id: must not be empty",
        "[screening]: unknown key 'threshhold_c'; did you mean 'threshold_c'?",
        "ui.port: expected a whole number, got a string ('8080')",
        "[lanes.main.relay] open_s: must be > 0 and <= max_open_s",
        "[lanes.main.relay] max_open_s: at most 60 s",
        "[lanes.main.camera] backend: one of 'zxing', 'pyzbar', not 'magic'",
    ]


def test_config_choices_are_literals_checked_in_code_too():
    import typing

    hints = typing.get_type_hints(config.RulesSettings)
    assert typing.get_args(hints["anti_passback"]) == ("off", "soft", "hard")
    with pytest.raises(ConfigError, match=r"rules\.anti_passback: one of 'off', 'soft', 'hard'"):
        config.RulesSettings(anti_passback="sometimes")


def test_config_import_loads_no_hardware_library():
    import subprocess
    import sys

    code = (
        "import kiosk.config, sys; print(sorted({'cv2', 'numpy', 'gpiozero'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_config_opening_hours_are_parsed_once():
    hours = config.HoursSettings(temporary="06:00-22:00")
    assert hours.windows["temporary"] == (time(6), time(22))
    assert hours.windows is hours.windows
    assert hours.windows["resident"] is None


@pytest.mark.parametrize("minutes", [0, -1])
def test_config_session_idle_min_must_be_at_least_a_minute(tmp_path, minutes):
    with pytest.raises(ConfigError, match=r"\[ui\].*session_idle_min.*at least 1") as err:
        config.load(write(tmp_path, f"[ui]\nsession_idle_min = {minutes}\n"))
    assert str(tmp_path / "k.toml") in str(err.value)


def test_config_https_needs_a_certificate_and_its_key(tmp_path):
    with pytest.raises(ConfigError, match=r"tls_key_file.*both"):
        config.load(write(tmp_path, '[ui]\ntls_cert_file = "screen.crt"\n'))
    with pytest.raises(ConfigError, match=r"tls_cert_file.*both"):
        config.load(write(tmp_path, '[ui]\ntls_key_file = "screen.key"\n'))
    text = '[gate]\nhardware = "sim"\n[ui]\ntls_cert_file = "a.crt"\ntls_key_file = "a.key"\n'
    cfg = config.load(write(tmp_path, text))
    assert cfg.ui.https
    assert cfg.resolve(cfg.ui.tls_cert_file) == tmp_path / "a.crt"
    assert not config.load(write(tmp_path, '[gate]\nhardware = "sim"\n')).ui.https


def test_config_shelf_camera_is_optional_and_takes_a_lane_camera_source(tmp_path):
    base = '[lanes.main.camera]\nsource = "/dev/video0"\n'
    assert config.load(write(tmp_path, base)).parcels.shelf is None
    cfg = config.load(write(tmp_path, base + '[parcels]\nshelf_camera = "/dev/video2"\n'))
    assert cfg.parcels.shelf_camera == "/dev/video2"
    assert cfg.parcels.shelf == config.CameraSettings(source="/dev/video2")
    demo = config.load(ROOT / "config" / "demo.toml")
    assert demo.parcels.shelf is not None and demo.parcels.shelf.source == "sim"


def test_config_shelf_camera_errors_name_file_and_key(tmp_path):
    base = '[lanes.main.camera]\nsource = "/dev/video0"\n'
    path = write(tmp_path, base + "[parcels]\nshelf_camara = '/dev/video2'\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(path) in str(err.value) and "did you mean 'shelf_camera'" in str(err.value)
    with pytest.raises(ConfigError, match=r"k.toml.*parcels.shelf_camera"):
        config.load(write(tmp_path, base + "[parcels]\nshelf_camera = 2\n"))
    with pytest.raises(ConfigError, match=r"\[parcels\] shelf_camera: 'sim' needs"):
        config.load(write(tmp_path, base + '[parcels]\nshelf_camera = "sim"\n'))
    with pytest.raises(ConfigError, match=r"already the camera of lane 'main'"):
        config.load(write(tmp_path, base + '[parcels]\nshelf_camera = "/dev/video0"\n'))
    with pytest.raises(
        ConfigError, match=r"k.toml: \[parcels\] shelf_camera: a camera source without"
    ):
        config.load(write(tmp_path, base + '[parcels]\nshelf_camera = " /dev/video2"\n'))
    sim = '[gate]\nhardware = "sim"\n[parcels]\nshelf_camera = "sim"\n'
    assert config.load(write(tmp_path, sim)).parcels.shelf.source == "sim"

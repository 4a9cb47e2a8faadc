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
    cfg = config.load(write(tmp_path, '[gate]\ndata_dir = "data"\n'))
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

"""How a TOML table becomes a frozen settings dataclass, and how settings are shown again.

The field names of a settings class are its keys and its defaults are the documented defaults;
the type of each field is what its value must be (``bool``, ``int``, ``float``, ``str``,
``X | None``, ``tuple[X, ...]``, ``Literal[...]`` for a choice, or another settings class for
a nested table). A settings class checks its values in ``__post_init__`` with :func:`check`,
which reports every problem at once and also refuses a value a ``Literal`` field does not
allow, whether the class comes from a file or is built in code.

Loading collects every problem of a file (an unknown key with a "did you mean", a wrong type,
a refused value), each naming the file and the key, and raises them together (as Mopidy's
config schemas do).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError

#: Keys whose values are never shown (matched on the key's last part).
SECRET_SUFFIXES = ("password", "secret", "token")
HIDDEN = "（已隐藏 hidden）"


class SettingsError(ConfigError):
    """A settings table refuses its values; :attr:`problems` lists every ``(key, why)``."""

    def __init__(self, table: str, problems: list[tuple[str, str]]) -> None:
        self.table = table
        self.problems = problems
        super().__init__("; ".join(f"{table}.{key}: {why}" for key, why in problems))


def check(settings: Any, table: str, *checks: tuple[bool, str, str]) -> None:
    """Refuse *settings* (from its ``__post_init__``) when a ``Literal`` field holds a value
    it does not allow, or any ``(ok, key, why)`` of *checks* is not ok.

    :raises SettingsError: naming every key refused, in field order for the choices.
    """
    problems = []
    for name, allowed in _choices(type(settings)).items():
        value = getattr(settings, name)
        if value not in allowed:
            problems.append((name, f"one of {', '.join(map(repr, allowed))}, not {value!r}"))
    problems += [(key, why) for ok, key, why in checks if not ok]
    if problems:
        raise SettingsError(table, problems)


@functools.cache
def _choices(cls: type) -> dict[str, tuple]:
    hints = typing.get_type_hints(cls)
    return {
        f.name: typing.get_args(hints[f.name])
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is typing.Literal
    }


def read_toml(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """Parse the TOML file *path*; any problem raises *error* naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def did_you_mean(key: str, names) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to *key*, or ``""``."""
    hint = difflib.get_close_matches(key, list(names), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""


#: What :func:`build` gives back for a table it could not build (its problems are noted).
FAILED = object()


def table(cls: type, data: Any, key: str, where: str) -> Any:
    """One settings table: *data* (parsed TOML) as *cls*.

    :raises ConfigError: every problem of the table, one line each, naming *where* and the key.
    """
    problems: list[str] = []
    built = build(cls, data, key, where, problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return built


def build(cls: type, data: Any, key: str, where: str, problems: list[str], skip=frozenset()):
    """*data* as *cls*, or :data:`FAILED` with every problem appended to *problems*."""
    section = f"[{key}]" if key else "top level"
    if not isinstance(data, dict):
        problems.append(f"{where}: {key}: expected a table, got {_kind(data)}")
        return FAILED
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in skip]
    for k in data:
        if k not in names:
            more = did_you_mean(k, names) or f"; known keys: {', '.join(names)}"
            problems.append(f"{where}: {section}: unknown key {k!r}{more}")
    kwargs, complete = {}, True
    for name in names:
        if name in data:
            full = f"{key}.{name}" if key else name
            value = _convert(hints[name], data[name], full, where, problems)
            complete = complete and value is not FAILED
            kwargs[name] = value
    if not complete:
        return FAILED
    try:
        return cls(**kwargs)
    except SettingsError as exc:
        problems.extend(f"{where}: {section} {k}: {why}" for k, why in exc.problems)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where}: {section}: {exc}")
    return FAILED


def _convert(tp: Any, value: Any, key: str, where: str, problems: list[str]):
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key, where, problems)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(tp)):
            return None
        first: list[str] = []
        for option in options:
            tried: list[str] = []
            converted = _convert(option, value, key, where, tried)
            if not tried:
                return converted
            first = first or tried
        problems.extend(first)
        return FAILED
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(f"{where}: {key}: expected a list, got {_kind(value)}")
            return FAILED
        args = typing.get_args(tp)
        item = args[0] if args else Any
        items = [_convert(item, v, f"{key}[{i}]", where, problems) for i, v in enumerate(value)]
        return FAILED if FAILED in items else tuple(items)
    if origin is typing.Literal:  # the class's check() judges the choice itself
        return _convert(type(typing.get_args(tp)[0]), value, key, where, problems)
    why = _refused(tp, value)
    if why:
        problems.append(f"{where}: {key}: {why}")
        return FAILED
    return float(value) if tp is float else value


def _refused(tp: Any, value: Any) -> str:
    """Why *value* is not of the plain type *tp* (``""`` when it is)."""
    if tp is Any:
        return ""
    if tp is bool:
        return "" if isinstance(value, bool) else f"expected true or false, got {_kind(value)}"
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected a whole number, got {_kind(value)}"
        return ""
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {_kind(value)}"
        if value != value or value in (float("inf"), float("-inf")):
            return "expected a finite number"
        return ""
    if tp is str:
        return "" if isinstance(value, str) else f"expected a string, got {_kind(value)}"
    return f"unsupported setting type {tp!r}"


def _kind(value: Any) -> str:
    names = {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return f"{names.get(type(value), type(value).__name__)} ({value!r:.40})"


def redacted(value: Any, key: str = "") -> Any:
    """*value* (a settings dataclass, dict or scalar) as plain data with secrets hidden."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if key.lower().endswith(SECRET_SUFFIXES):
        return HIDDEN if value else ""
    if isinstance(value, Path):
        return str(value)
    return value


def lines(settings: Any) -> list[str]:
    """*settings* as TOML-like lines (a ``[table]`` line before each table's keys), secrets
    hidden."""
    out: list[str] = []

    def walk(values: dict, prefix: str) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if scalars or not prefix:
            if prefix:
                out.append(f"[{prefix}]")
            out.extend(f"{k} = {v!r}" for k, v in scalars.items())
        for k, v in values.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}.{k}" if prefix else k)

    walk(redacted(settings), "")
    return out

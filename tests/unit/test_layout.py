"""The rules of the house (DESIGN.md, layout): who may import whom.

The simulated world is handed in from the top, so no production module imports it; the views
talk to the facade only; the pure core imports no hardware, Flask or SQLite."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kiosk"


def imports(path: Path) -> set[str]:
    """Every module *path* imports (``from x import y`` counts as ``x`` and ``x.y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(*exclude: str) -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if not any(p.relative_to(PACKAGE).as_posix().startswith(x) for x in exclude)
    ]


def offending(paths, forbidden) -> dict[str, list[str]]:
    out = {}
    for path in paths:
        bad = sorted(
            m for m in imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden)
        )
        if bad:
            out[path.relative_to(PACKAGE).as_posix()] = bad
    return out


def test_layout_no_production_module_imports_the_simulated_world():
    assert offending(modules("sim/", "cli.py"), ["kiosk.sim"]) == {}


def test_layout_views_reach_the_kiosk_only_through_the_facade():
    views = sorted((PACKAGE / "ui").glob("*.py"))
    forbidden = ["kiosk.journal", "kiosk.config", "kiosk.daemon", "kiosk.hardware", "kiosk.sim"]
    forbidden += ["kiosk.accounts", "kiosk.actuators", "kiosk.sensors", "kiosk.camera"]
    assert offending(views, forbidden) == {}


@pytest.mark.parametrize("name", ["policy.py", "passes.py", "reasons.py", "config.py"])
def test_layout_pure_modules_import_no_hardware_flask_or_sqlite(name):
    forbidden = ["gpiozero", "smbus2", "cv2", "numpy", "flask", "sqlite3", "kiosk.ui"]
    assert offending([PACKAGE / name], forbidden) == {}


def test_layout_hardware_modules_import_nothing_from_the_ui():
    hardware = modules("ui/", "sim/", "cli.py", "service.py", "facade.py", "daemon.py")
    assert offending(hardware, ["kiosk.ui", "flask"]) == {}

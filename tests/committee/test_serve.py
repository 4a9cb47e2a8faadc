"""``committee serve`` as a process: it listens, answers by the contract, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_committee_serve_answers_and_stops_on_sigterm(tmp_path, fresh_db):
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    config = tmp_path / "committee.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[storage]\ndata_dir = "{tmp_path}"\n', encoding="utf-8"
    )
    with subprocess.Popen(
        [sys.executable, "-m", "committee.cli", "serve", "--config", str(config), "--port", "0"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        _check_and_stop(proc)


def _check_and_stop(proc: subprocess.Popen) -> None:
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[0].startswith("Database:"), lines
        base = lines[1].split()[-1]
        assert base.startswith("http://127.0.0.1:") and base.endswith("/api/v1")
        request = urllib.request.Request(f"{base}/gates/g1/roster")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        with refused.value as exc:
            assert exc.code == 401
            assert json.loads(exc.read())["error"] == "token refused"
        health = base.removesuffix("/api/v1") + "/healthz"
        with urllib.request.urlopen(health, timeout=10) as reply:
            assert json.loads(reply.read()) == {"ok": True}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        stderr = proc.stderr.read()
    assert code == 0, stderr
    assert "Traceback" not in stderr

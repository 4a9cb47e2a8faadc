"""Spoken prompts on the real daemon: how soon a result prompt starts after the decision,
and whether the voice changes the gate's latency.

Two kiosks run side by side in the same process for the whole run (simulated hardware, real
threads, real decoding), one with the voice off and one speaking through ``aplay`` on ALSA's
``null`` device (a real ALSA output that needs no sound card), with the default prompts made
by espeak-ng. Trials alternate between them.

- prompt start: from the decision (the ``access.granted`` event's monotonic time) to the
  moment ``aplay`` reports that it plays the ``granted`` prompt;
- gate latency, voice off and on: from the first frame showing a pass to the relay, a
  temperature already taken (as in ``bench.gate``).

``python -m bench.voice [--quick]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench.gate import _Rig, _wait
from bench.stats import summary

#: The voice of the speaking kiosk: real ALSA output, no sound card needed, full volume.
VOICE_ON = {"output": "alsa", "device": "null", "quiet_hours": "", "volume": 1.0}


def _trial(rig: _Rig) -> tuple[float, float | None]:
    """One person through: ms from the frame with the pass to the relay, and ms from the
    decision to the start of the result prompt (None without a voice)."""
    voice = rig.kiosk.voice
    spoken = len(voice.spoken) if voice is not None else 0
    before = rig.kiosk.journal.last_seq()
    rig.settle()
    rig.world.step_in(35.5, None)
    _wait(lambda: rig.unit.lane._fresh_reading() is not None)
    rig.marks.clear()
    rig.world.present(rig.token())
    _wait(lambda: "relay" in rig.marks)
    latency = (rig.marks["relay"] - rig.marks["frame"]) * 1000.0
    if voice is None:
        return latency, None
    # the relay is pulsed before the grant is journaled: wait for this person's record
    _wait(
        lambda: any(e.seq > before for e in rig.kiosk.journal.recent(1, types=("access.granted",)))
    )
    (decision,) = rig.kiosk.journal.recent(1, types=("access.granted",))
    _wait(lambda: any(s.prompt == "granted" for s in list(voice.spoken)[spoken:]))
    started = next(s for s in list(voice.spoken)[spoken:] if s.prompt == "granted")
    return latency, (started.started - decision.mono) * 1000.0


def run(quick: bool = False) -> dict:
    if shutil.which("aplay") is None or shutil.which("espeak-ng") is None:
        raise RuntimeError("needs aplay and espeak-ng: bash scripts/system-packages.sh runtime")
    from kiosk.voice.clips import build_defaults

    trials = 10 if quick else 30
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        build_defaults(Path(tmp) / "on" / "voice", english=False)
        off = _Rig(Path(tmp) / "off")
        on = _Rig(Path(tmp) / "on", VOICE_ON)
        try:
            _wait(lambda: on.kiosk.voice.status()["state"] != "unknown")
            status = on.kiosk.voice.status()
            if status["state"] != "ok":
                raise RuntimeError(f"the voice does not play: {status}")
            latency_off, latency_on, prompt = [], [], []
            for _ in range(trials):
                latency_off.append(_trial(off)[0])
                ms, start = _trial(on)
                latency_on.append(ms)
                prompt.append(start)
                time.sleep(0.05)
        finally:
            off.close()
            on.close()
    starts = summary(prompt, 1)
    off_s, on_s = summary(latency_off, 1), summary(latency_on, 1)
    return {
        "prompt_start_ms": starts,
        "gate_latency_voice_off_ms": off_s,
        "gate_latency_voice_on_ms": on_s,
        "output": "aplay on ALSA null",
        "targets": {
            "prompt_start_ms": "p95 <= 150",
            "gate_latency": "voice on within 2 ms (or 10 %) of voice off, median",
        },
        "met": {
            "prompt_start_ms": starts["p95"] <= 150,
            "gate_latency": on_s["median"] <= max(off_s["median"] * 1.1, off_s["median"] + 2.0),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.voice", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()

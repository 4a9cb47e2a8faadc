"""Benchmark: the memory a roster costs, at the cap and beyond it.

``python -m bench.roster`` (``--quick``: a smaller roster; ``--json`` for the raw figures).
Each figure is the peak RSS of a process of its own (its ``VmHWM``):

- ``kiosk roster import`` of a roster just under :data:`kiosk.contract.MAX_ROSTER_BYTES`
  (16 MiB, some 230,000 passes): read, checked by the contract, stored;
- the lookups a running gate keeps for it (:class:`kiosk.roster.Roster` from the stored
  roster, as the daemon builds it);
- ``kiosk roster import`` of a 61 MB roster of 900,000 passes: refused before it is read.

Target: the import at the cap under 200 MiB; the 61 MB roster refused under 100 MiB (the
interpreter with the command line's imports alone takes some 55 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = "bench-site"


def write_roster(path: Path, passes: int, *, limit: int | None = None) -> int:
    """A roster of *passes* passes (fewer if *limit* bytes are reached); returns how many."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"version": "bench#1", "site": SITE})[:-1])
        out.write(',"households":[],"revoked":[],"home_observation":[],"passes":[')
        size, n = out.tell(), 0
        for i in range(passes):
            entry = json.dumps(
                {
                    "id": f"P{i:010d}",
                    "household": f"{i // 3 % 9000}-{i % 3000:04d}",
                    "status": "active",
                }
            )
            if limit is not None and size + len(entry) + 3 > limit:
                break
            out.write(("," if n else "") + entry)
            size += len(entry) + (1 if n else 0)
            n += 1
        out.write("]}")
    return n


def _child(code: str, *args: str) -> tuple[float, float, str]:
    """Run *code* in a fresh interpreter; (its peak RSS in MiB, seconds, its output)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + _PEAK, *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    out, _, peak = done.stdout.rpartition("PEAK ")
    if not peak.strip().isdigit():
        raise RuntimeError(f"the child failed:\n{done.stdout}\n{done.stderr}")
    return round(int(peak) / 1024, 1), round(seconds, 2), (out + done.stderr).strip()


# VmHWM, the high-water mark of this very process (ru_maxrss would carry over the parent's
# across fork and exec on Linux)
_PEAK = """
import pathlib as _p
_hwm = [l for l in _p.Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM")]
print("PEAK", _hwm[0].split()[1])
"""

IMPORT = """
import sys
from click.testing import CliRunner
from kiosk.cli import main
result = CliRunner().invoke(main, ["roster", "import", sys.argv[1], "--config", sys.argv[2]])
print(result.exit_code, result.output.strip())
"""

LOOKUPS = """
import sys
from kiosk.clock import SystemClock
from kiosk.journal import Journal
from kiosk.roster import Roster
journal = Journal(sys.argv[1], SystemClock())
roster = Roster.from_body(*journal.load_roster_json())
print(len(roster.passes), roster.problem)
"""


def run(quick: bool = False) -> dict:
    from kiosk import contract

    with tempfile.TemporaryDirectory(prefix="bench-roster-") as tmp:
        folder = Path(tmp)
        config = folder / "kiosk.toml"
        config.write_text(
            f'[gate]\nsite = "{SITE}"\nhardware = "sim"\ndata_dir = "{folder / "data"}"\n'
        )
        huge = folder / "huge.json"
        huge_passes = write_roster(huge, 900_000)
        huge_peak, huge_s, huge_out = _child(IMPORT, str(huge), str(config))
        at_cap = folder / "cap.json"
        limit = contract.MAX_ROSTER_BYTES if not quick else 2 << 20
        cap_passes = write_roster(at_cap, 10**7, limit=limit)
        cap_peak, cap_s, cap_out = _child(IMPORT, str(at_cap), str(config))
        lookups_peak, lookups_s, lookups_out = _child(LOOKUPS, str(folder / "data" / "journal.db"))
        result = {
            "cap_bytes": at_cap.stat().st_size,
            "cap_passes": cap_passes,
            "import_at_cap_peak_rss_mib": cap_peak,
            "import_at_cap_s": cap_s,
            "import_at_cap_output": cap_out[:200],
            "lookups_peak_rss_mib": lookups_peak,
            "lookups_s": lookups_s,
            "lookups_output": lookups_out[:200],
            "huge_bytes": huge.stat().st_size,
            "huge_passes": huge_passes,
            "huge_refused_peak_rss_mib": huge_peak,
            "huge_refused_s": huge_s,
            "huge_output": huge_out[:300],
        }
    result["imported"] = cap_out.startswith("0 ") and lookups_out.startswith(str(cap_passes))
    result["huge_refused"] = huge_out.startswith("2 ") and "over the 16 MiB" in huge_out
    result["target_met"] = (
        result["imported"] and result["huge_refused"] and cap_peak < 200 and huge_peak < 100
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.roster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 2 MiB roster at the cap")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"roster import at the cap: {result['cap_passes']:,} passes, "
            f"{result['cap_bytes'] / 2**20:.1f} MiB: peak RSS "
            f"{result['import_at_cap_peak_rss_mib']} MiB in {result['import_at_cap_s']} s; the "
            f"gate's lookups for it: peak RSS {result['lookups_peak_rss_mib']} MiB; a "
            f"{result['huge_bytes'] / 1e6:.0f} MB roster of {result['huge_passes']:,} passes "
            f"refused: peak RSS {result['huge_refused_peak_rss_mib']} MiB "
            f"({'ok' if result['target_met'] else 'TARGET MISSED'})"
        )
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())

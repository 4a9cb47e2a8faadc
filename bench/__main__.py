"""``make bench``: every benchmark, one table.

Writes ``bench/results.md`` and ``bench/results.json`` with the machine at the top. Each
figure is a median over repeated runs with its spread; each comparison is measured in the same
run. ``python -m bench [--quick] [--only gate,journal,...]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.stats import machine

PARTS = (
    "scanner",
    "person",
    "gate",
    "journal",
    "uplink",
    "roster",
    "rest",
    "screen",
    "sigterm",
    "voice",
    "committee",
    "pages",
)
HERE = Path(__file__).resolve().parent


def _f(value, unit=""):
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:g}"
    return f"{value}{unit}"


def _row(figure, stats, unit, target="", met=None):
    spread = f"IQR {_f(stats.get('iqr'))}, p95 {_f(stats.get('p95'))}" if "iqr" in stats else ""
    ok = "" if met is None else ("yes" if met else "**no**")
    return f"| {figure} | {_f(stats.get('median'), unit)} | {spread} | {target} | {ok} |"


def _scanner_rows(part: str, size: str, decoders: dict, checks: dict) -> list[str]:
    """Two rows for one corpus part at one frame size: decode rates, then times."""
    ours = decoders.get("kiosk-zxing", {})
    peers = {k: v for k, v in decoders.items() if k != "kiosk-zxing"}
    peer_rates = ", ".join(f"{k} {_f(v.get('decode_rate'), ' %')}" for k, v in peers.items())
    kinds = ", ".join(f"{k} {_f(v, ' %')}" for k, v in ours.get("by_kind", {}).items())
    rate_checks = [c for c in checks if "rate" in c or "kind" in c or "false" in c]
    target = ">= 97 %, above every peer, no false reads"
    if size == "640x480":
        target += ", each kind >= 95 %"
    rows = [
        f"| scanner {part} {size}: decode rate (kiosk, zxing) | "
        f"{_f(ours.get('decode_rate'), ' %')} | {kinds}; false reads "
        f"{ours.get('false_reads')}; peers: {peer_rates} | {target} | "
        f"{'yes' if all(checks[c] for c in rate_checks) else '**no**'} |"
    ]
    limit = 3 if size.startswith("640") else 6
    peer_ms = ", ".join(f"{k} {_f(v.get('median_ms_code'))} ms" for k, v in peers.items())
    time_checks = [c for c in checks if "ms" in c]
    rows.append(
        f"| scanner {part} {size}: ms per frame with a code | "
        f"{_f(ours.get('median_ms_code'), ' ms')} | p95 {_f(ours.get('p95_ms'))} ms; empty "
        f"{_f(ours.get('median_ms_empty'))} ms; {peer_ms} | median <= {limit} ms, empty <= 2 ms, "
        f"p95 <= 15 ms | {'yes' if all(checks[c] for c in time_checks) else '**no**'} |"
    )
    apart = ours.get("subsets", {})
    if apart:
        alone = decoders.get("zxing-cpp", {}).get("subsets", {})
        words = "; ".join(
            f"{name} ({v['frames']} frames) {_f(v['decode_rate'], ' %')}"
            + (f", zxing-cpp {_f(alone[name]['decode_rate'], ' %')}" if name in alone else "")
            for name, v in apart.items()
        )
        rows.append(
            f"| scanner {part} {size}: frames apart (kiosk, zxing) | "
            f"{_f(apart.get('still, 3 px a module or more', {}).get('decode_rate'), ' %')} "
            f"held still at 3 px a module or more | {words} | | |"
        )
    located = ours.get("located")
    if located:
        rows.append(
            f"| scanner {part} {size}: code located, not read (the hint's signal) | "
            f"{located['empty_frames']} empty frames | of the missed frames "
            f"{located['missed_located']}/{located['missed_frames']}, of those under 3 px a "
            f"module {located['missed_under_3px_located']}/{located['missed_under_3px']} | "
            f"0 empty frames | {'yes' if located['empty_frames'] == 0 else '**no**'} |"
        )
    return rows


def _prompt_rows(prompt: dict | None) -> list[str]:
    """The per-person rows with and without "hold your pass closer", side by side."""
    if not prompt:
        return []

    def words(f: dict) -> str:
        shares = ", ".join(f"{_f(f.get(f'within_{s}s_percent'), ' %')}" for s in ("1", "2", "3"))
        median = _f(f["median_s"], " s") if f.get("median_s") is not None else "never"
        p95 = _f(f["p95_s"], " s") if f.get("p95_s") is not None else "never"
        return f"within 1/2/3 s {shares}; median {median}, p95 {p95}"

    out = []
    clip = prompt.get("clip_s_after_code_in_view")
    for group, label in (("all", "all"), ("held at under 3 px a module", "under 3 px a module")):
        without, with_ = prompt["without"].get(group, {}), prompt["with"].get(group, {})
        asked = prompt["prompted"].get(group, 0)
        out.append(
            f"| per person, {label} ({with_.get('people')}), with the prompt "
            f"(clips {clip} s) | {_f(with_.get('within_1s_percent'), ' %')} within 1 s | "
            f"with: {words(with_)}; without: {words(without)}; asked {asked} | | |"
        )
    hint = prompt.get("hint_after_code_in_view_s", {})
    out.append(
        f"| per person: code in view -> asked to come closer | {_f(hint.get('median'), ' s')} "
        f"| p95 {_f(hint.get('p95'))} s; {hint.get('n', 0)} people asked, "
        f"{prompt.get('prompted_before_code_in_view', 0)} before the whole code was in view "
        f"| | |"
    )
    return out


def rows(name: str, result: dict) -> list[str]:
    """Table rows for one part's result."""
    out = []
    if name == "scanner":
        for part, sizes in result["results"].items():
            for size, decoders in sizes.items():
                out += _scanner_rows(part, size, decoders, result["targets"][part][size])
    elif name == "person":
        kinds = ", ".join(
            f"{k} {_f(v, ' %')}" for k, v in result["by_kind_within_1s_percent"].items()
        )
        out.append(
            f"| per person ({result['people']} clips): read within 1 s of the code in view | "
            f"{_f(result['read_within_1s_percent'], ' %')} | {kinds}; not read "
            f"{result['not_read']} | >= 99 % | "
            f"{'yes' if result['read_within_1s_percent'] >= 99 else '**no**'} |"
        )
        apart = result.get("apart", {})
        if apart:
            words = "; ".join(
                f"{k} ({v['people']} people) {_f(v['within_1s_percent'], ' %')}"
                for k, v in apart.items()
            )
            held = apart.get("held at 3 px a module or more", {})
            out.append(
                f"| per person, apart: read within 1 s | "
                f"{_f(held.get('within_1s_percent'), ' %')} held at 3 px a module or more | "
                f"{words} | | |"
            )
        median, p95 = result["median_s"], result["p95_s"]
        read_p95 = result.get("read_times_s", {}).get("p95")
        spread = f"p95 {_f(p95)} s" if p95 is not None else "p95 never (over 5 % not read)"
        out.append(
            f"| per person: code in view -> pass read | {_f(median, ' s')} | {spread}; of "
            f"those read, p95 {_f(read_p95)} s | median <= 0.2 s | "
            f"{'yes' if median is not None and median <= 0.2 else '**no**'} |"
        )
        out += _prompt_rows(result.get("prompt"))
    elif name == "gate":
        met = result["met"]
        out.append(
            _row(
                "gate latency: first frame with a pass -> relay",
                result["gate_latency_ms"],
                " ms",
                "median <= 50 ms",
                met["gate_latency_ms"],
            )
        )
        out.append(
            _row(
                "time at the gate: stepping in -> relay (10 Hz, window 5)",
                result["time_at_gate_s"],
                " s",
                "median <= 1.0 s",
                met["time_at_gate_s"],
            )
        )
        out.append(
            _row(
                "`kiosk simulate` of 200 people",
                result["scenario_200_people_s"],
                " s",
                "< 30 s",
                met["scenario_200_people_s"],
            )
        )
    elif name == "journal":
        out.append(
            _row(
                "journal: durable events appended per second",
                result["events_per_s"],
                "/s",
                ">= 500/s",
                result["met"],
            )
        )
    elif name == "uplink":
        out.append(
            f"| uplink: drain {result.get('events', 100000):,} events to a loopback server | "
            f"{_f(result.get('seconds'), ' s')} | peak RSS {_f(result.get('peak_rss_mib'))} MiB"
            f" | < 60 s, memory flat | {'yes' if result.get('target_met') else '**no**'} |"
        )
        slow = result.get("slow_server", {})
        out.append(
            f"| uplink: byte-a-second roster reply, deadline {_f(slow.get('deadline_s'))} s | "
            f"{_f(slow.get('byte_a_second_pull_s'), ' s')} | alert pushed meanwhile in "
            f"{_f(slow.get('alert_while_pull_trickles_s'))} s; stop in "
            f"{_f(slow.get('stop_during_trickle_s'))} s | deadline + 0.5 s; alert < 1 s; stop < 3 s"
            f" | {'yes' if slow.get('target_met') else '**no**'} |"
        )
    elif name == "roster":
        out.append(
            f"| roster import at the 16 MiB cap ({result.get('cap_passes', 0):,} passes) | "
            f"{_f(result.get('import_at_cap_peak_rss_mib'), ' MiB')} peak RSS | the gate's "
            f"lookups {_f(result.get('lookups_peak_rss_mib'))} MiB; a "
            f"{result.get('huge_bytes', 0) / 1e6:.0f} MB roster refused at "
            f"{_f(result.get('huge_refused_peak_rss_mib'))} MiB | < 200 MiB; refused < 100 MiB | "
            f"{'yes' if result.get('target_met') else '**no**'} |"
        )
    elif name == "rest":
        out.append(
            _row(
                "daemon at rest: CPU, 15 fps empty scene",
                result["cpu_percent_of_one_core"],
                " % of one core",
                "<= 10 %",
                result["cpu_percent_of_one_core"]["median"] <= 10,
            )
        )
        out.append(
            _row(
                "daemon at rest: RSS",
                result["rss_mb"],
                " MB",
                "<= 150 MB",
                result["rss_mb"]["max"] <= 150,
            )
        )
    elif name == "screen":
        out.append(_row("guard screen: main page, 10 live streams", result["main_page_ms"], " ms"))
        out.append(_row("guard screen: events page, 10 live streams", result["records_ms"], " ms"))
        out.append(
            _row("guard screen: events API, 10 live streams", result["events_api_ms"], " ms")
        )
        if "healthz_ms" in result:
            many = result["many_streams"]
            out.append(
                _row(
                    f"guard screen: /healthz, {many} live streams",
                    result["healthz_ms"],
                    " ms",
                    f"p95 <= {_f(result['healthz_target_p95_ms'])} ms",
                    result["met"],
                )
            )
            out.append(
                _row(f"guard screen: sign-in, {many} live streams", result["sign_in_ms"], " ms")
            )
    elif name == "sigterm":
        figures = result["sigterm_to_relay_off_ms"]
        out.append(
            _row(
                "SIGTERM -> relay off (real daemon, relay held open)",
                figures,
                " ms",
                "< 100 ms (max)",
                result["met"],
            )
        )
    elif name == "voice":
        met = result["met"]
        out.append(
            _row(
                "voice: decision -> result prompt playing (aplay, ALSA null)",
                result["prompt_start_ms"],
                " ms",
                "p95 <= 150 ms",
                met["prompt_start_ms"],
            )
        )
        off, on = result["gate_latency_voice_off_ms"], result["gate_latency_voice_on_ms"]
        out.append(
            f"| voice: gate latency, frame -> relay, voice on | {_f(on['median'], ' ms')} | "
            f"IQR {_f(on['iqr'])}, p95 {_f(on['p95'])}; voice off (same run) "
            f"{_f(off['median'], ' ms')}, IQR {_f(off['iqr'])}, p95 {_f(off['p95'])} | "
            "unchanged (median within 2 ms or 10 %) | "
            f"{'yes' if met['gate_latency'] else '**no**'} |"
        )
    elif name == "committee":
        out += committee_rows(result)
    elif name == "pages":
        out += pages_rows(result)
    return out


def pages_rows(result: dict) -> list[str]:
    """The committee's pages over a street's month of events (``bench.pages``)."""
    where = (
        f"{result['gates']} gates, {result['days']} days, {result['events']:,} events, PostgreSQL"
    )
    target = f"p95 <= {result['target_p95_ms']:g} ms"
    names = {
        "now_page_street_ms": "Now page, street office (every gate)",
        "now_page_one_site_ms": "Now page, a committee of one compound",
        "now_state_street_ms": "Now state as JSON, street office",
        "stream_snapshot_street_ms": "live stream: open -> its snapshot, street office",
        "report_street_ms": "daily report page, whole street",
        "report_one_site_ms": "daily report page, one compound",
        "report_pdf_street_ms": "daily report PDF, whole street",
        "report_xlsx_street_ms": "daily report XLSX, whole street",
        "gate_ack_with_streams_ms": "gate API: one-event batch acked, 150 live pages open",
    }
    out = []
    for key, label in names.items():
        stats = result["figures"][key]
        met = result["met"].get(key)
        out.append(
            _row(
                f"committee pages ({where}): {label}",
                stats,
                " ms",
                target if met is not None else "",
                met,
            )
        )
    return out


def committee_rows(result: dict) -> list[str]:
    """One row per engine and street size of ``bench.committee``."""
    from bench.committee import TARGETS, key

    out = []
    sizes = sorted({r["gates"] for r in result["scenarios"]})
    for r in result["scenarios"]:
        targets = ["0 duplicates, 0 gaps, memory flat"]
        if r["gates"] == sizes[-1] and r["engine"] == "postgresql" and not r["pace_s"]:
            targets.append(f">= {TARGETS['pg_events_per_s_500']}/s")
        if r["gates"] == sizes[0] and r["pace_s"]:
            targets.append(f"p95 ack <= {TARGETS['p95_ms_55']} ms")
        met = result["met"][key(r)]
        out.append(
            f"| committee server, {r['engine']}, {r['gates']} gates x {r['events_per_gate']} "
            f"events, {r['mode']} (batches of {r['batch']}, 10 % of replies dropped): "
            f"stored events/s | "
            f"{r['events_per_s']}/s | ack p50 {r['ack_p50_ms']} ms, p95 {r['ack_p95_ms']} ms; "
            f"{r['duplicates']} duplicates, {r['gaps']} gaps, {r['conflicts_409']} resends "
            f"answered 409; server RSS {r['server_rss_first_quarter_mib']} -> "
            f"{r['server_rss_last_quarter_mib']} MiB, peak {r['server_peak_mib']} MiB | "
            f"{', '.join(targets)} | {'yes' if met else '**no**'} |"
        )
    load = result.get("load_before")
    if load:
        out.append(
            f"| committee bench: machine load average before the run | {load[0]} | "
            f"after: {result.get('load_after', ['?'])[0]} | | |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller corpora")
    parser.add_argument("--only", help="comma-separated parts: " + ",".join(PARTS))
    args = parser.parse_args()
    parts = args.only.split(",") if args.only else list(PARTS)
    results: dict = {
        "machine": machine(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "parts": {},
    }
    table = []
    for name in parts:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            result = module.run(quick=args.quick)
            results["parts"][name] = result
            table += rows(name, result)
        except Exception as exc:
            traceback.print_exc()
            results["parts"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            table.append(f"| {name} | failed: {exc} | | | **no** |")
        print(f"   {time.perf_counter() - start:.1f} s", flush=True)
    m = results["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    lines = [
        "# Benchmark results",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['system']}, Python {m['python']}; {libs}.",
        f"Run {results['when']}{' (quick)' if args.quick else ''} with `make bench`.",
        "",
        "| figure | median | spread / peers | target | met |",
        "|---|---|---|---|---|",
        *table,
        "",
    ]
    (HERE / "results.md").write_text("\n".join(lines), encoding="utf-8")
    (HERE / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

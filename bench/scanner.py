"""Scanner benchmark: decode rate and time per frame on the generated corpus.

Runs, on the same files and in one process with one thread: kiosk's :class:`Scanner` with
each backend, zxing-cpp alone and plain pyzbar on the whole frame, OpenCV's
``cv2.QRCodeDetector``, and Debian's ``zbarimg`` command (timed per image as a whole process,
so it includes start-up); on both parts of the corpus (tuning and held-out), per kind, and on
the frames ``bench.corpus`` says are hard for a physical reason, apart. Times are the CPU
time of the decoding thread (``zbarimg``: the wall time of its process), so a busy machine
slows them less than it would wall time.

Usage: ``python -m bench.scanner [--quick] [--json] [--no-zbarimg] [--part tuning]``.
:func:`run` returns the figures as a dict for an aggregating ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

from bench.corpus import DEFAULT_DIR, KINDS, PARTS, build
from kiosk.camera.scanner import Scanner

Decoder = Callable[[np.ndarray, str], list[str]]

MEDIAN_MS_TARGET = {"640x480": 3.0, "1280x720": 6.0}
"""Median ms per frame with a code that kiosk-zxing should stay under, by frame size."""


class _Kiosk:
    """kiosk's :class:`Scanner`; :attr:`located` says whether its last scan located a code it
    could not read (what makes the reader's "hold your pass closer" hint)."""

    def __init__(self, backend: str) -> None:
        self.scanner = Scanner(backend)

    def __call__(self, frame: np.ndarray, path: str) -> list[str]:
        return [d.text for d in self.scanner.scan(frame)]

    @property
    def located(self) -> bool:
        return self.scanner.stats.located > 0


def _kiosk(backend: str) -> Decoder:
    return _Kiosk(backend)


def _zxing() -> Decoder:
    """zxing-cpp alone on the whole frame, as its defaults are (inverted codes too)."""
    import zxingcpp

    formats = zxingcpp.BarcodeFormat.QRCode

    def decode(frame: np.ndarray, path: str) -> list[str]:
        return [r.text for r in zxingcpp.read_barcodes(frame, formats=formats, try_invert=True)]

    return decode


def _pyzbar() -> Decoder:
    from pyzbar import pyzbar

    symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(frame: np.ndarray, path: str) -> list[str]:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        return [s.data.decode("utf-8", "replace") for s in pyzbar.decode(gray, symbols=symbols)]

    return decode


def _opencv() -> Decoder:
    detector = cv2.QRCodeDetector()

    def decode(frame: np.ndarray, path: str) -> list[str]:
        text, _points, _ = detector.detectAndDecode(frame)
        return [text] if text else []

    return decode


def _zbarimg(frame: np.ndarray, path: str) -> list[str]:
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path],
        capture_output=True,
        check=False,
    )
    return [line.decode("utf-8", "replace") for line in out.stdout.splitlines() if line]


SUBSETS = {
    "under 3 px a module": lambda e: e["module_px"] is not None and e["module_px"] < 3.0,
    "moving": lambda e: bool(e["moving"]),
    "still, 3 px a module or more": lambda e: (
        e["module_px"] is not None and e["module_px"] >= 3.0 and not e["moving"]
    ),
}
"""Frames with a code reported apart beside the totals: physical, and hard for a reason
(``bench.corpus``: a phone held too far, a hand still arriving), and the rest."""


def _tags(entry: dict) -> tuple[str, ...]:
    """The :data:`SUBSETS` a manifest entry with a code belongs to."""
    if entry["text"] is None:
        return ()
    return tuple(name for name, test in SUBSETS.items() if test(entry))


def _summary(rows: list[tuple]) -> dict:
    """rows: (kind or None for an empty frame, read correctly / something read, ms, subset
    names, a code located but not read)."""
    coded = [r for r in rows if r[0] is not None]
    empty = [r for r in rows if r[0] is None]
    ms_all = [r[2] for r in rows]
    kinds = {}
    for kind in KINDS:
        mine = [r for r in coded if r[0] == kind]
        if mine:
            kinds[kind] = round(100.0 * sum(r[1] for r in mine) / len(mine), 1)
    return {
        "frames": len(rows),
        "decode_rate": round(100.0 * sum(r[1] for r in coded) / max(1, len(coded)), 1),
        "by_kind": kinds,
        "median_ms_code": round(float(np.median([r[2] for r in coded])), 2) if coded else None,
        "median_ms_empty": round(float(np.median([r[2] for r in empty])), 2) if empty else None,
        "p95_ms": round(float(np.percentile(ms_all, 95)), 2) if ms_all else None,
        "false_reads": sum(1 for r in empty if r[1]),
        "subsets": {
            name: {
                "frames": len(mine),
                "decode_rate": round(100.0 * sum(r[1] for r in mine) / len(mine), 1),
            }
            for name in SUBSETS
            if (mine := [r for r in coded if name in r[3]])
        },
        "located": _located(coded, empty),
    }


def _located(coded: list[tuple], empty: list[tuple]) -> dict:
    """How often the scanner located a code it could not read: on empty frames (each one a
    false hint, were it sustained), and on the frames with a code it missed."""
    missed = [r for r in coded if not r[1]]
    small = [r for r in missed if "under 3 px a module" in r[3]]
    return {
        "empty_frames": sum(1 for r in empty if r[4]),
        "missed_frames": len(missed),
        "missed_located": sum(1 for r in missed if r[4]),
        "missed_under_3px": len(small),
        "missed_under_3px_located": sum(1 for r in small if r[4]),
    }


def run(
    quick: bool = False,
    *,
    zbarimg: bool = True,
    out_dir=DEFAULT_DIR,
    parts: tuple[str, ...] | None = None,
) -> dict:
    """Build (or reuse) the corpus and measure every decoder on both of its parts.

    :param parts: only these corpus parts (``("tuning",)`` while tuning); both when ``None``.

    :return: ``{"corpus": {...}, "results": {part: {size: {decoder: summary}}}, "targets":
        {part: {size: {check: met}}}}`` where a summary has ``decode_rate`` (% of frames
        with a code whose text was read), ``by_kind`` (the same per kind), ``median_ms_code``,
        ``median_ms_empty``, ``p95_ms`` (over all frames), ``false_reads`` (empty frames
        where something was read) and ``subsets`` (frames and decode rate of each of
        :data:`SUBSETS`).
    """
    cv2.setNumThreads(1)
    manifest = build(out_dir, quick=quick)
    decoders: dict[str, Decoder] = {
        "kiosk-zxing": _kiosk("zxing"),
        "kiosk-pyzbar": _kiosk("pyzbar"),
        "zxing-cpp": _zxing(),
        "pyzbar": _pyzbar(),
        "opencv": _opencv(),
    }
    if zbarimg and shutil.which("zbarimg"):
        decoders["zbarimg"] = _zbarimg
    rows: dict[str, dict[str, dict[str, list]]] = {}
    for entry in manifest:
        if parts is not None and entry["part"] not in parts:
            continue
        size = f"{entry['width']}x{entry['height']}"
        frame = cv2.imread(entry["path"], cv2.IMREAD_COLOR)
        for name, decode in decoders.items():
            # CPU time of this thread (the machine may be shared); zbarimg is a process of
            # its own, so its wall time (start-up included)
            clock = time.perf_counter if name == "zbarimg" else time.thread_time
            start = clock()
            texts = decode(frame, entry["path"])
            ms = (clock() - start) * 1000.0
            expected = entry["text"]
            ok = expected in texts if expected is not None else bool(texts)
            per = rows.setdefault(entry["part"], {}).setdefault(size, {})
            located = bool(getattr(decode, "located", False))
            per.setdefault(name, []).append((entry["kind"], ok, ms, _tags(entry), located))
    results = {
        part: {size: {name: _summary(r) for name, r in per.items()} for size, per in sizes.items()}
        for part, sizes in rows.items()
    }
    return {
        "corpus": {
            "frames": len(manifest),
            "quick": quick,
            "dir": "bench/corpus",
            "parts": {p: sum(1 for e in manifest if e["part"] == p) for p in rows},
        },
        "results": results,
        "targets": {part: _targets(per) for part, per in results.items()},
    }


def _targets(results: dict) -> dict:
    """Whether kiosk-zxing meets each target, by frame size."""
    met = {}
    for size, per in results.items():
        ours = per["kiosk-zxing"]
        peers = [s["decode_rate"] for name, s in per.items() if not name.startswith("kiosk")]
        median_target = MEDIAN_MS_TARGET.get(size, 6.0)
        checks = {
            "decode rate >= 97 %": ours["decode_rate"] >= 97.0,
            "decode rate above every peer": all(ours["decode_rate"] > p for p in peers),
            "no false reads": ours["false_reads"] == 0,
            f"median ms with a code <= {median_target:g}": ours["median_ms_code"] <= median_target,
            "median ms empty <= 2": ours["median_ms_empty"] <= 2.0,
            "p95 ms <= 15": ours["p95_ms"] <= 15.0,
        }
        if size == "640x480":
            checks["every kind >= 95 %"] = all(r >= 95.0 for r in ours["by_kind"].values())
        met[size] = checks
    return met


def _table(report: dict) -> str:
    head = (
        f"{'part':<9} {'size':<9} {'decoder':<13} {'rate %':>7} "
        + " ".join(f"{k[:8]:>8}" for k in KINDS)
        + f" {'med ms':>7} {'empty ms':>9} {'p95 ms':>7}"
    )
    lines = [head, "-" * len(head)]
    for part, sizes in report["results"].items():
        for size, per in sizes.items():
            for name, s in per.items():
                kinds = " ".join(f"{s['by_kind'].get(k, 0):>8.1f}" for k in KINDS)
                lines.append(
                    f"{part:<9} {size:<9} {name:<13} {s['decode_rate']:>7.1f} {kinds} "
                    f"{s['median_ms_code']:>7.2f} {s['median_ms_empty']:>9.2f} {s['p95_ms']:>7.2f}"
                    + (f"  false reads: {s['false_reads']}" if s["false_reads"] else "")
                )
    for part, sizes in report["results"].items():
        for size, per in sizes.items():
            for name in ("kiosk-zxing", "zxing-cpp"):
                apart = per[name]["subsets"].items()
                words = "; ".join(f"{k} {v['decode_rate']} % of {v['frames']}" for k, v in apart)
                lines.append(f"{part} {size} {name} apart: {words}")
    for part, sizes in report.get("targets", {}).items():
        for size, checks in sizes.items():
            missed = [name for name, ok in checks.items() if not ok]
            verdict = "all met" if not missed else "missed: " + "; ".join(missed)
            lines.append(f"{part} {size} kiosk-zxing targets: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scanner", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small corpus, for a smoke run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-zbarimg", action="store_true", help="skip the zbarimg command")
    parser.add_argument("--part", choices=sorted(PARTS), help="only this part of the corpus")
    args = parser.parse_args(argv)
    parts = (args.part,) if args.part else None
    report = run(args.quick, zbarimg=not args.no_zbarimg, parts=parts)
    print(json.dumps(report, indent=1) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

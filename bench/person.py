"""Per person: how long from the code being fully in view to the reader's decision.

Each person is a clip of about 2 s at 15 fps rendered by the camera model
(:mod:`kiosk.sim.camera_model`): an empty scene for a few frames, then the phone or card is
raised into view from below (fast at first, so blurred, and further away), settles where the
person holds it, and is held with a hand's tremor; some people move it again half-way. Auto
exposure follows the scene with a lag (a bright phone entering a dark scene is overexposed for
a few frames). The scene, camera and pass are drawn as for the corpus's tuning part, one kind
in four each.

The clip is fed to the daemon's own :class:`~kiosk.camera.reader.PassReader` (change gate,
unread retries, debounce) on an injected clock: frame *k* arrives at *k*/15 s; a poll takes
the CPU time the scan really took (``time.thread_time``), and the next poll gets the first
frame that arrived after it, as a camera that keeps only its newest frame does. The time to
decision is from the arrival of the first frame in which the whole code is in view to the end
of the poll that reported the pass; a person not read before the clip ends counts as not read.

``python -m bench.person [--quick] [--people N] [--seed N]``
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from bench.corpus import KINDS, TUNING_PRIOR, draw_setup
from bench.stats import summary
from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.clock import FakeClock
from kiosk.config import CameraSettings
from kiosk.events import PassPresented
from kiosk.sim.camera_model import (
    SUPERSAMPLE,
    Pose,
    code_in_view,
    place,
    render,
    render_plane,
    wall_light,
)

FPS = 15.0
HOLD_AFTER_VIEW_S = 1.2
"""Each clip goes on at least this long after the code is first fully in view."""


class ClipSource:
    """A frame source that shows one frame at a time, set by the bench."""

    name = "clip"

    def __init__(self) -> None:
        self.frame: np.ndarray | None = None

    def read(self) -> np.ndarray | None:
        return self.frame

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def _ease(t: float) -> float:
    """0 -> 1 with falling speed (a hand slowing down as it arrives)."""
    t = min(max(t, 0.0), 1.0)
    return 1.0 - (1.0 - t) ** 3


def clip(rng: np.random.Generator, kind: str, width: int = 640, height: int = 480) -> dict:
    """Render one person's clip.

    :return: ``frames`` (list of BGR uint8), ``first_in_view`` (index of the first frame with
        the whole code in view, or ``None``), ``text``, ``kind``, and where the pass is held
        once it has settled: ``module_px`` (at the code's centre) and ``distance_mm``.
    """
    setup = draw_setup(rng, TUNING_PRIOR, kind, width, height)
    scene = setup.scene
    tilt = np.radians(rng.uniform(0, TUNING_PRIOR.tilt_deg))
    direction = rng.uniform(0, 2 * np.pi)
    rot_end = np.array([tilt * np.cos(direction), tilt * np.sin(direction),
                        np.radians(rng.uniform(-30, 30))])  # fmt: skip
    plane = final = None
    while final is None:  # where the person ends up holding it, the code in view
        pres, camera = setup.presentation, setup.camera
        plane = render_plane(setup.text, pres, rng, scene.ambient_nits)
        final = place(plane, pres.module_px, rng, width, height, edge_modules=3.0,
                      rotation=tuple(rot_end), focal=camera.focal)  # fmt: skip
        if final is None:  # too large for the frame: held a little further back
            setup = setup.at(setup.distance_mm / 0.9)
    mid = plane.corners.mean(axis=0)
    end = np.asarray(cv2_point(final, mid))
    start = np.array([end[0] + rng.uniform(-120, 120), height + rng.uniform(0.4, 0.9) * height])
    rot_start = rot_end + np.radians(
        [rng.uniform(-25, 25), rng.uniform(-25, 25), rng.uniform(-20, 20)]
    )
    far = rng.uniform(0.6, 0.9)  # starts further away: smaller
    idle = int(rng.integers(2, 6))  # empty frames before the pass appears
    raise_s = rng.uniform(0.3, 0.8)
    second = rng.random() < 0.2  # moves it again half-way
    second_at, second_s = rng.uniform(0.9, 1.3), rng.uniform(0.2, 0.4)
    second_by = rng.uniform(20, 60) * np.array([np.cos(direction), np.sin(direction)])
    tremor = rng.uniform(1.0, 4.0)  # pixels
    wobble_deg = rng.uniform(0.3, 1.5)  # the hand turns a little too
    # a highlight on the glass moves as the pass turns: by the camera distance (in plane
    # pixels) times the turn, in radians
    distance = camera.focal * plane.px / pres.module_px
    wall = wall_light(scene, width * SUPERSAMPLE, height * SUPERSAMPLE)

    def where(t: float) -> tuple[np.ndarray, np.ndarray, float]:
        a = _ease(t / raise_s)
        centre = start + (end - start) * a
        if second and t > second_at:
            centre = centre + second_by * _ease((t - second_at) / second_s)
        centre = centre + tremor * np.array([math.sin(7.1 * t + 1), math.sin(5.3 * t)])
        rotation = rot_start + (rot_end - rot_start) * a
        wobble = np.radians(wobble_deg) * np.array([math.sin(4.3 * t), math.sin(3.7 * t + 2), 0])
        rotation = rotation + wobble
        return centre, rotation, pres.module_px * (far + (1 - far) * a)

    frames, first_in_view = [], None
    metered = None
    own = None
    k = 0
    n = round(2.0 * FPS)
    while k < n:
        t = (k - idle) / FPS
        pose = None
        if t >= 0:
            centre, rotation, module_px = where(t)
            ahead, _, _ = where(t + 0.5 / FPS)
            behind, _, _ = where(max(0.0, t - 0.5 / FPS))
            speed = (ahead - behind) * FPS
            h = place(plane, module_px, rng, width, height, centre=tuple(centre),
                      rotation=tuple(rotation), focal=camera.focal)  # fmt: skip
            # further away while it is raised: smaller, and out of focus by as much
            seen = setup.at(setup.distance_mm * pres.module_px / module_px).camera
            turn = rotation - rot_end
            shift = (float(distance * turn[1]), float(distance * turn[0]))
            pose = Pose(h, (float(speed[0]), float(speed[1])), shift)
            if first_in_view is None and code_in_view(plane, h, width, height) is not None:
                first_in_view = k
                n = max(n, k + math.ceil(HOLD_AFTER_VIEW_S * FPS))
        # auto exposure: exposes for what it metered, moving a share of the way each frame
        if own is not None:
            metered = own if metered is None else metered + 0.35 * (own - metered)
        frame, exposure = render(plane if pose is not None else None, pose, scene,
                                 seen if pose is not None else camera, rng,
                                 metered_nits=metered, wall=wall)  # fmt: skip
        own = exposure.metered_nits
        frames.append(frame)
        k += 1
    return {
        "frames": frames,
        "first_in_view": first_in_view,
        "text": setup.text,
        "kind": kind,
        "module_px": pres.module_px,
        "distance_mm": setup.distance_mm,
    }


def cv2_point(homography: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """Where *homography* maps *point* (x, y)."""
    x, y, w = homography @ np.array([point[0], point[1], 1.0])
    return float(x / w), float(y / w)


def time_to_read(person: dict) -> float | None:
    """Seconds from the first frame with the code fully in view to the reader's decision,
    through the daemon's reader on an injected clock; ``None`` if not read in the clip."""
    clock = FakeClock()
    source = ClipSource()
    settings = CameraSettings(fps=FPS)
    reader = PassReader(source, Scanner(), clock, "main", settings)
    t0 = clock.monotonic()
    frames = person["frames"]
    k0 = person["first_in_view"]
    k = 0
    while k < len(frames):
        arrived = t0 + k / FPS
        clock.set(arrived)
        source.frame = frames[k]
        cpu = time.thread_time()
        events = reader.poll()
        done = arrived + (time.thread_time() - cpu)
        for event in events:
            if isinstance(event, PassPresented) and event.text == person["text"]:
                return max(0.0, done - (t0 + k0 / FPS)) if k0 is not None else None
        clock.set(done)
        k = max(k + 1, math.ceil((done - t0) * FPS - 1e-9))
    return None


PERSON_SEED = 4_721_005
"""The reported clips' seed: new with corpus version 4, never looked at while tuning (tune
with ``--seed`` and another number)."""


APART = {
    "held at under 3 px a module": lambda person: person["module_px"] < 3.0,
    "held at 3 px a module or more": lambda person: person["module_px"] >= 3.0,
}
"""People reported apart: where the pass is held once it has settled (a phone held beyond
about 20 cm shows its code at under 3 pixels a module; see ``bench.corpus``)."""


def _within_1s(groups: dict[str, list[float | None]]) -> dict[str, float]:
    """The share of each group read within 1 s, in %."""
    return {
        k: round(100.0 * sum(1 for t in v if t is not None and t <= 1.0) / max(1, len(v)), 1)
        for k, v in groups.items()
    }


def run(quick: bool = False, *, people: int | None = None, seed: int = PERSON_SEED) -> dict:
    """Render *people* clips (200, or 40 with *quick*) and time each through the reader.

    :param seed: the clips' seed (:data:`PERSON_SEED` for the reported figure).
    """
    import cv2

    cv2.setNumThreads(1)
    count = people or (40 if quick else 200)
    rng = np.random.default_rng(seed)
    times: list[float] = []
    by_kind: dict[str, list[float | None]] = {k: [] for k in KINDS}
    apart: dict[str, list[float | None]] = {k: [] for k in APART}
    unread = 0
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        person = clip(rng, kind)
        while person["first_in_view"] is None:  # the code never came fully in view: redraw
            person = clip(rng, kind)
        seconds = time_to_read(person)
        by_kind[kind].append(seconds)
        apart[next(k for k, test in APART.items() if test(person))].append(seconds)
        if seconds is None:
            unread += 1
        else:
            times.append(seconds)
    within = sum(1 for t in times if t <= 1.0)
    all_times = [t if t is not None else math.inf for k in by_kind.values() for t in k]
    stats = summary(times, 3)
    median = float(np.median(all_times))
    p95 = float(np.percentile(all_times, 95, method="higher"))  # no interpolation with inf
    share = 100.0 * within / count
    return {
        "people": count,
        "read_within_1s_percent": round(share, 1),
        "median_s": round(median, 3) if math.isfinite(median) else None,
        "p95_s": round(p95, 3) if math.isfinite(p95) else None,
        "not_read": unread,
        "read_times_s": stats,
        "by_kind_within_1s_percent": _within_1s(by_kind),
        "apart": {
            k: {"people": len(v), "within_1s_percent": _within_1s({k: v})[k]}
            for k, v in apart.items()
        },
        "setup": "640x480 at 15 fps, clips of 2 s or more, the daemon's PassReader on a "
        "fake clock, scan CPU time included",
        "target": ">= 99 % within 1 s, median <= 0.2 s",
        "met": share >= 99.0 and math.isfinite(median) and median <= 0.2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.person", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="40 people instead of 200")
    parser.add_argument("--people", type=int, help="how many people")
    parser.add_argument("--seed", type=int, default=PERSON_SEED, help="the clips' seed")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, people=args.people, seed=args.seed), indent=2))


if __name__ == "__main__":
    main()

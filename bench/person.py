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
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bench.corpus import KINDS, TUNING_PRIOR, draw_setup
from bench.stats import summary
from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.clock import FakeClock
from kiosk.config import CameraSettings
from kiosk.events import CodeUnread, PassPresented
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
"""Each clip goes on at least this long after the code is first fully in view (the issue's
figures: read within 1 s, median, p95)."""
LONGEST_S = 3.2
"""... and for the figures with and without the prompt, this long (to say who is read within
3 s)."""
WITHIN_S = (1.0, 2.0, 3.0)
"""The shares read within these many seconds, with and without the prompt."""


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


class Move(NamedTuple):
    """A person answering "hold your pass closer": from *at* (s on the clip's time) over
    *seconds*, the code's centre to *centre* (frame pixels) and its modules to *module_px*."""

    at: float
    seconds: float
    centre: np.ndarray
    module_px: float


class Clip:
    """One person's clip, rendered a frame at a time.

    The first frames (:attr:`base`, about 2 s) are drawn from the run's generator in the same
    order as before the prompt existed, so the people and the issue's 1 s figure stay those
    of earlier runs; the frames after them (the pass still held, up to :data:`LONGEST_S`
    after the code came into view) and those of a person answering the prompt come from
    generators of the person's own.
    """

    def __init__(self, rng: np.random.Generator, kind: str, width: int = 640,
                 height: int = 480) -> None:  # fmt: skip
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
        self.setup, self.plane, self.camera = setup, plane, camera
        self.width, self.height = width, height
        self.kind, self.text = kind, setup.text
        self.module_px, self.distance_mm = pres.module_px, setup.distance_mm
        self.end = end = np.asarray(cv2_point(final, plane.corners.mean(axis=0)))
        self.start = np.array(
            [end[0] + rng.uniform(-120, 120), height + rng.uniform(0.4, 0.9) * height]
        )
        self.rot_end = rot_end
        self.rot_start = rot_end + np.radians(
            [rng.uniform(-25, 25), rng.uniform(-25, 25), rng.uniform(-20, 20)]
        )
        self.far = rng.uniform(0.6, 0.9)  # starts further away: smaller
        self.idle = int(rng.integers(2, 6))  # empty frames before the pass appears
        self.raise_s = rng.uniform(0.3, 0.8)
        self.second = rng.random() < 0.2  # moves it again half-way
        self.second_at, self.second_s = rng.uniform(0.9, 1.3), rng.uniform(0.2, 0.4)
        self.second_by = rng.uniform(20, 60) * np.array([np.cos(direction), np.sin(direction)])
        self.tremor = rng.uniform(1.0, 4.0)  # pixels
        self.wobble_deg = rng.uniform(0.3, 1.5)  # the hand turns a little too
        # a highlight on the glass moves as the pass turns: by the camera distance (in plane
        # pixels) times the turn, in radians
        self.glass = camera.focal * plane.px / pres.module_px
        self.wall = wall_light(scene, width * SUPERSAMPLE, height * SUPERSAMPLE)
        self.frames: list[np.ndarray] = []
        self._states: list[tuple] = [(None, None)]  # auto exposure before each frame
        self.first_in_view: int | None = None
        n = round(2.0 * FPS)
        while len(self.frames) < n:
            k = len(self.frames)
            frame, in_view, state = self._render(k, rng, self._states[k])
            self.frames.append(frame)
            self._states.append(state)
            if self.first_in_view is None and in_view:
                self.first_in_view = k
                n = max(n, k + math.ceil(HOLD_AFTER_VIEW_S * FPS))
        self.base = n
        first = self.first_in_view if self.first_in_view is not None else n
        self.length = max(n, first + math.ceil(LONGEST_S * FPS))

    def _path(self, t: float, move: Move | None) -> tuple[np.ndarray, np.ndarray, float]:
        if move is not None and t > move.at:
            centre, rotation, module_px = self._path(move.at, None)
            a = _ease((t - move.at) / move.seconds)
            return (centre + (move.centre - centre) * a, rotation,
                    module_px + (move.module_px - module_px) * a)  # fmt: skip
        a = _ease(t / self.raise_s)
        centre = self.start + (self.end - self.start) * a
        if self.second and t > self.second_at:
            centre = centre + self.second_by * _ease((t - self.second_at) / self.second_s)
        rotation = self.rot_start + (self.rot_end - self.rot_start) * a
        return centre, rotation, self.module_px * (self.far + (1 - self.far) * a)

    def where(self, t: float, move: Move | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """The code's centre (frame pixels), rotation (radians) and module size (pixels)
        *t* seconds after the pass starts to rise, the hand's tremor included; *move*: the
        person answering the prompt."""
        centre, rotation, module_px = self._path(t, move)
        centre = centre + self.tremor * np.array([math.sin(7.1 * t + 1), math.sin(5.3 * t)])
        wobble = np.radians(self.wobble_deg) * np.array(
            [math.sin(4.3 * t), math.sin(3.7 * t + 2), 0]
        )
        return centre, rotation + wobble, module_px

    def _render(self, k: int, rng: np.random.Generator, state: tuple,
                move: Move | None = None) -> tuple[np.ndarray, bool, tuple]:  # fmt: skip
        """Frame *k*, whether the whole code is in it, and the auto exposure after it, from
        *state*, the exposure before it."""
        metered, own = state
        t = (k - self.idle) / FPS
        pose = seen = None
        in_view = False
        setup, plane = self.setup, self.plane
        if t >= 0:
            centre, rotation, module_px = self.where(t, move)
            ahead, _, _ = self.where(t + 0.5 / FPS, move)
            behind, _, _ = self.where(max(0.0, t - 0.5 / FPS), move)
            speed = (ahead - behind) * FPS
            h = place(plane, module_px, rng, self.width, self.height, centre=tuple(centre),
                      rotation=tuple(rotation), focal=self.camera.focal)  # fmt: skip
            # further away: smaller, and out of focus by as much
            seen = setup.at(setup.distance_mm * self.module_px / module_px).camera
            turn = rotation - self.rot_end
            shift = (float(self.glass * turn[1]), float(self.glass * turn[0]))
            pose = Pose(h, (float(speed[0]), float(speed[1])), shift)
            in_view = code_in_view(plane, h, self.width, self.height) is not None
        # auto exposure: exposes for what it metered, moving a share of the way each frame
        if own is not None:
            metered = own if metered is None else metered + 0.35 * (own - metered)
        frame, exposure = render(plane if pose is not None else None, pose, setup.scene,
                                 seen if pose is not None else self.camera, rng,
                                 metered_nits=metered, wall=self.wall)  # fmt: skip
        return frame, in_view, (metered, exposure.metered_nits)

    def frame(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """Frame *k* of the person holding the pass where it settled (no prompt); frames
        after :attr:`base` are drawn from *rng*, the person's own."""
        while len(self.frames) <= k:
            j = len(self.frames)
            frame, _, state = self._render(j, rng, self._states[j])
            self.frames.append(frame)
            self._states.append(state)
        return self.frames[k]

    def answer(self, prompt_t: float, rng: np.random.Generator) -> Move:
        """How this person answers a prompt *prompt_t* seconds into the clip (its frame 0 at
        0 s): after a reaction time of 0.6-1.2 s, the pass is brought in 0.3-0.6 s to about
        the distance the screen asks for (12-18 cm; a pass already nearer stays as near) and
        towards the middle of the view."""
        at = prompt_t - self.idle / FPS + rng.uniform(0.6, 1.2)
        target = min(self.distance_mm, rng.uniform(120.0, 180.0))
        module_px = self.setup.at(target).presentation.module_px
        centre = np.array([self.width / 2, self.height / 2]) + rng.normal(0.0, 30.0, 2)
        return Move(at, rng.uniform(0.3, 0.6), centre, module_px)

    def answering(self, move: Move, own: np.random.Generator,
                  rng: np.random.Generator) -> Callable[[int], np.ndarray]:  # fmt: skip
        """Frames of the person answering the prompt: those without it up to *move* (later
        ones from *own*, as :meth:`frame`), then new ones from *rng*, the pass brought where
        *move* says, with the blur of the move."""
        first = max(0, math.floor(move.at * FPS) + self.idle + 1)  # the first frame it moves
        moved: list[np.ndarray] = []
        state: list[tuple] = []

        def frame(k: int) -> np.ndarray:
            if k < first:
                return self.frame(k, own)
            if not state:
                if first:
                    self.frame(first - 1, own)  # the exposure as the move starts
                state.append(self._states[first])
            while len(moved) <= k - first:
                j = first + len(moved)
                image, _, after = self._render(j, rng, state[-1], move)
                moved.append(image)
                state.append(after)
            return moved[k - first]

        return frame


def clip(rng: np.random.Generator, kind: str, width: int = 640, height: int = 480) -> dict:
    """Render one person's clip (its first 2 s or so; :class:`Clip` renders more on demand).

    :return: ``frames`` (list of BGR uint8), ``first_in_view`` (index of the first frame with
        the whole code in view, or ``None``), ``text``, ``kind``, where the pass is held
        once it has settled: ``module_px`` (at the code's centre) and ``distance_mm``, and
        ``clip``, the :class:`Clip`.
    """
    person = Clip(rng, kind, width, height)
    return {
        "frames": list(person.frames),
        "first_in_view": person.first_in_view,
        "text": person.text,
        "kind": kind,
        "module_px": person.module_px,
        "distance_mm": person.distance_mm,
        "clip": person,
    }


def cv2_point(homography: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """Where *homography* maps *point* (x, y)."""
    x, y, w = homography @ np.array([point[0], point[1], 1.0])
    return float(x / w), float(y / w)


class Reading(NamedTuple):
    """What the reader made of one clip.

    :param seconds: from the first frame with the code fully in view to the report of the
        pass, or ``None`` when it was not read in the clip.
    :param frame: the frame whose poll reported the pass, or ``None``.
    :param hint_t: when the reader first reported a code it could not read (seconds from the
        clip's first frame; before the pass was read), or ``None``.
    """

    seconds: float | None
    frame: int | None
    hint_t: float | None


def read_clip(
    person: dict,
    frames: Callable[[int], np.ndarray],
    length: int,
    *,
    answer: Callable[[float], Callable[[int], np.ndarray]] | None = None,
) -> Reading:
    """Feed frames ``frames(0)``, ... (up to *length*) to the daemon's reader on an injected
    clock, as a camera that keeps only its newest frame delivers them.

    :param answer: called with the time of the reader's first
        :class:`~kiosk.events.CodeUnread` (seconds from frame 0: the prompt is on the
        resident screen and starting on the loudspeaker within milliseconds); returns the
        frames from then on (the person answering it). ``None``: nobody answers.
    """
    clock = FakeClock()
    source = ClipSource()
    settings = CameraSettings(fps=FPS)
    reader = PassReader(source, Scanner(), clock, "main", settings)
    t0 = clock.monotonic()
    k0 = person["first_in_view"]
    hint_t = None
    k = 0
    while k < length:
        arrived = t0 + k / FPS
        clock.set(arrived)
        source.frame = frames(k)
        cpu = time.thread_time()
        events = reader.poll()
        done = arrived + (time.thread_time() - cpu)
        for event in events:
            if isinstance(event, PassPresented) and event.text == person["text"]:
                seconds = max(0.0, done - (t0 + k0 / FPS)) if k0 is not None else None
                return Reading(seconds, k, hint_t)
            if isinstance(event, CodeUnread) and hint_t is None:
                hint_t = done - t0
                if answer is not None:
                    frames = answer(hint_t)
        clock.set(done)
        k = max(k + 1, math.ceil((done - t0) * FPS - 1e-9))
    return Reading(None, None, hint_t)


def time_to_read(person: dict) -> float | None:
    """Seconds from the first frame with the code fully in view to the reader's decision,
    through the daemon's reader on an injected clock; ``None`` if not read in the clip's
    ``frames``."""
    frames = person["frames"]
    return read_clip(person, frames.__getitem__, len(frames)).seconds


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


def _figures(times: list[float | None]) -> dict:
    """Shares read within each of :data:`WITHIN_S` (%), median and p95 (s, ``None`` when
    more than half or 5 % were not read in the clip)."""
    data = [t if t is not None else math.inf for t in times]
    if not data:
        return {"people": 0}
    median = float(np.median(data))
    p95 = float(np.percentile(data, 95, method="higher"))  # no interpolation with inf
    out: dict = {"people": len(data)}
    for limit in WITHIN_S:
        out[f"within_{limit:g}s_percent"] = round(
            100.0 * sum(1 for t in data if t <= limit) / len(data), 1
        )
    out["median_s"] = round(median, 3) if math.isfinite(median) else None
    out["p95_s"] = round(p95, 3) if math.isfinite(p95) else None
    out["not_read"] = sum(1 for t in data if not math.isfinite(t))
    return out


def _both_ways(person: Clip, seed: int, i: int) -> tuple[Reading, Reading]:
    """Person *i* through the reader holding the pass where it settled, and answering the
    prompt (the same reading when nobody asked them: the frames are the same)."""
    facts = {"first_in_view": person.first_in_view, "text": person.text}
    own = np.random.default_rng([seed, i])
    answers = np.random.default_rng([seed, i, 1])

    def held(k: int) -> np.ndarray:
        return person.frame(k, own)

    def answer(t: float) -> Callable[[int], np.ndarray]:
        return person.answering(person.answer(t, answers), own, answers)

    alone = read_clip(facts, held, person.length)
    if alone.hint_t is None:
        return alone, alone
    return alone, read_clip(facts, held, person.length, answer=answer)


def run(quick: bool = False, *, people: int | None = None, seed: int = PERSON_SEED) -> dict:
    """Render *people* clips (200, or 40 with *quick*) and time each through the reader,
    each person twice: holding the pass where it settled, and answering the prompt.

    :param seed: the clips' seed (:data:`PERSON_SEED` for the reported figure).
    """
    import cv2

    cv2.setNumThreads(1)
    count = people or (40 if quick else 200)
    rng = np.random.default_rng(seed)
    times: list[float] = []
    by_kind: dict[str, list[float | None]] = {k: [] for k in KINDS}
    apart: dict[str, list[float | None]] = {k: [] for k in APART}
    compared: dict[str, dict[str, list[float | None]]] = {
        variant: {"all": [], **{k: [] for k in APART}} for variant in ("without", "with")
    }
    prompted = {"all": 0, **dict.fromkeys(APART, 0)}
    hints: list[float] = []
    early = 0  # hints before the whole code was in view
    unread = 0
    each: list[dict] = []  # every person not read within 1 s without the prompt
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        person = Clip(rng, kind)
        while person.first_in_view is None:  # the code never came fully in view: redraw
            person = Clip(rng, kind)
        alone, answered = _both_ways(person, seed, i)
        # the figures, as defined before the prompt: read within the first clip
        seconds = alone.seconds if alone.frame is not None and alone.frame < person.base else None
        group = next(k for k, test in APART.items() if test(vars(person)))
        by_kind[kind].append(seconds)
        apart[group].append(seconds)
        if seconds is None:
            unread += 1
        else:
            times.append(seconds)
        if alone.hint_t is not None:  # asked
            hints.append(alone.hint_t - person.first_in_view / FPS)
            early += alone.hint_t < person.first_in_view / FPS
            prompted["all"] += 1
            prompted[group] += 1
        for variant, reading in (("without", alone), ("with", answered)):
            compared[variant]["all"].append(reading.seconds)
            compared[variant][group].append(reading.seconds)
        if alone.seconds is None or alone.seconds > 1.0:
            each.append(
                {
                    "kind": kind,
                    "module_px": round(person.module_px, 2),
                    "distance_mm": round(person.distance_mm),
                    "without_s": alone.seconds,
                    "with_s": answered.seconds,
                    "asked_s": None
                    if alone.hint_t is None
                    else round(alone.hint_t - person.first_in_view / FPS, 3),
                }
            )
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
        "prompt": {
            "without": {k: _figures(v) for k, v in compared["without"].items()},
            "with": {k: _figures(v) for k, v in compared["with"].items()},
            "prompted": prompted,
            "prompted_before_code_in_view": early,
            "hint_after_code_in_view_s": summary(hints, 3),
            "clip_s_after_code_in_view": LONGEST_S,
            "not_read_within_1s_without": each,
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

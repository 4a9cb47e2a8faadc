"""The speaker: plays the prompts a lane's states and decisions call for, on its own thread.

The lane never waits for it. :meth:`Voice.tell` only puts the lane's snapshot in a queue
(Mopidy's listeners ``tell()``, never ``ask()``); the voice thread turns snapshots into
prompts (:func:`kiosk.voice.prompts.cues`), drops those the lane has moved past, and starts
the next one on the output. A result interrupts guidance of its own lane; prompts of other
lanes wait their turn on the one loudspeaker.

An output is anything with ``play(clip, volume, lane) -> playback`` (the playback has
``done()`` and ``stop()``; ``play`` raises :class:`~kiosk.errors.AudioError`), ``check() ->
problem or None`` and ``needs_files``. :class:`AlsaOutput` is the kiosk's own audio output;
the simulated world has :class:`kiosk.sim.audio.SimAudio`. A missing or broken output is a
health badge (:meth:`Voice.status`), never a fault of the lane.
"""

from __future__ import annotations

import logging
import queue
import select
import shutil
import subprocess
import threading
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiosk.errors import AudioError
from kiosk.policy import within_hours
from kiosk.threads import Worker
from kiosk.voice import prompts
from kiosk.voice.clips import Library, build_defaults, scaled_copy

log = logging.getLogger(__name__)

#: Seconds the voice thread sleeps when nothing is waiting or playing.
IDLE_WAIT_S = 0.5
#: Seconds between checks of a prompt that is playing or due soon.
BUSY_WAIT_S = 0.01
#: How long aplay may take to open the device and start (s) before it counts as broken.
START_TIMEOUT_S = 2.0
#: Put in the inbox to wake the thread (at stop).
_WAKE = object()


def volume_at(settings, moment: datetime) -> float:
    """The volume (0..1) of ``[voice]`` *settings* at local time *moment*: ``quiet_volume``
    inside ``quiet_hours``, else ``volume``."""
    hours = settings.quiet_window
    if hours is not None and within_hours(hours, moment.time()):
        return settings.quiet_volume
    return settings.volume


@dataclass(frozen=True)
class Spoken:
    """One prompt the voice started: when its cue was made and when it started (monotonic
    seconds), and at what volume."""

    lane: str
    prompt: str
    text: str
    made: float
    started: float
    volume: float


class Voice:
    """Speaks the lanes' prompts.

    :param output: where prompts are played (:class:`AlsaOutput`, the simulated speaker).
    :param library: the prompt audio (:class:`kiosk.voice.clips.Library`).
    :param clock: the kiosk's clock.
    :param volume: ``(local time) -> volume 0..1`` (quiet hours); 0 means silent.
    :param on_status: called with :meth:`status` when the output's health changes; must not
        block.
    :param build: make missing default audio at start (espeak-ng) when the output needs files.
    """

    def __init__(
        self,
        output,
        library: Library,
        clock,
        *,
        volume: Callable[[datetime], float] = lambda moment: 1.0,
        on_status: Callable[[dict], None] | None = None,
        build: bool = True,
    ) -> None:
        self.output = output
        self.library = library
        self.clock = clock
        self.volume = volume
        self.on_status = on_status
        self.build = build
        self.spoken: deque[Spoken] = deque(maxlen=200)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._last: dict[str, object] = {}
        self._pending: list[prompts.Cue] = []
        self._playing: tuple[prompts.Cue, object] | None = None
        self._problem: str | None = None
        self._checked = False
        self._missing: list[str] = []
        self._lock = threading.Lock()

    # -- what the lanes call ---------------------------------------------------------------

    def tell(self, snapshot) -> None:
        """Hand over a lane's new :class:`kiosk.lane.LaneSnapshot`; never blocks."""
        self._inbox.put(snapshot)

    # -- the work, one step at a time ------------------------------------------------------

    def prepare(self) -> None:
        """Make missing default audio (when the output needs files) and check the output."""
        if self.output.needs_files:
            missing = self.library.missing()
            if missing and self.build:
                try:
                    made = build_defaults(self.library.folder, english=self.library.english)
                    log.info("voice: made %d default prompt files", len(made))
                except AudioError as exc:
                    log.warning("voice: %s", exc)
            self._missing = self.library.missing()
        self._set_problem(self.output.check())
        self._checked = True

    def step(self, wait_s: float = 0.0) -> None:
        """Take the snapshots told so far (waiting up to *wait_s* for the first), drop what
        is stale, and start the next prompt when the speaker is free."""
        try:
            snapshot = self._inbox.get(timeout=wait_s) if wait_s > 0 else self._inbox.get_nowait()
        except queue.Empty:
            snapshot = None
        now = self.clock.monotonic()
        while snapshot is not None:
            if snapshot is not _WAKE:
                self._take(snapshot, now)
            try:
                snapshot = self._inbox.get_nowait()
            except queue.Empty:
                snapshot = None
        if self._playing is not None and self._playing[1].done():
            self._finished(self._playing[1])
            self._playing = None
        if self._playing is None:
            self._start_next(now)

    def _take(self, snapshot, now: float) -> None:
        lane = snapshot.name
        prev = self._last.get(lane)
        self._last[lane] = snapshot
        self._pending = [c for c in self._pending if c.lane != lane or prompts.wanted(c, snapshot)]
        new = prompts.cues(prev, snapshot, now)
        if not new:
            return
        self._pending = [c for c in self._pending if c.lane != lane] + new
        if self._playing is not None:
            cue, playback = self._playing
            first = new[0].prompt.kind
            if cue.lane == lane and (first == prompts.RESULT or cue.prompt.kind == prompts.GUIDE):
                playback.stop()
                self._playing = None

    def _start_next(self, now: float) -> None:
        self._pending = [c for c in self._pending if c.stale >= now]
        due = [c for c in self._pending if c.due <= now]
        if not due:
            return
        cue = min(due, key=lambda c: (c.due, c.made))
        self._pending.remove(cue)
        volume = self.volume(self.clock.now())
        if volume <= 0:
            return  # quiet hours with the voice off
        clip = self.library.clip(cue.prompt.name)
        try:
            playback = self.output.play(clip, volume, cue.lane)
        except AudioError as exc:
            self._set_problem(str(exc))
            return
        started = self.clock.monotonic()
        self._set_problem(None)  # it plays: whatever was wrong is mended
        self.spoken.append(Spoken(cue.lane, clip.name, clip.text, cue.made, started, volume))
        self._playing = (cue, playback)

    def _finished(self, playback) -> None:
        error = getattr(playback, "error", None)
        self._set_problem(error)

    def next_wait(self) -> float:
        """How long the thread may sleep before there is something to do."""
        if self._playing is not None:
            return BUSY_WAIT_S
        if self._pending:
            soonest = min(c.due for c in self._pending) - self.clock.monotonic()
            return min(IDLE_WAIT_S, max(BUSY_WAIT_S, soonest))
        return IDLE_WAIT_S

    # -- health ----------------------------------------------------------------------------

    def _set_problem(self, problem: str | None) -> None:
        with self._lock:
            changed = problem != self._problem
            self._problem = problem
        if changed:
            if problem:
                log.warning("voice: audio output: %s", problem)
            else:
                log.info("voice: audio output working")
            if self.on_status is not None:
                try:
                    self.on_status(self.status())
                except Exception:  # a listener never breaks the voice
                    log.exception("voice status listener failed")

    def status(self) -> dict:
        """``state``: ``ok``, ``warn`` (prompts without audio), ``fault`` (the output does not
        play) or ``unknown`` (not checked yet); ``problem``, ``missing`` prompts, ``played``."""
        with self._lock:
            problem = self._problem
        if problem:
            state = "fault"
        elif not self._checked:
            state = "unknown"
        elif self._missing:
            state = "warn"
        else:
            state = "ok"
        return {
            "state": state,
            "problem": problem
            or ("no audio for: " + ", ".join(self._missing) if self._missing else None),
            "missing": list(self._missing),
            "played": len(self.spoken),
        }

    def wake(self) -> None:
        """Cut a :meth:`step`'s wait short."""
        self._inbox.put(_WAKE)

    def silence(self) -> None:
        """Stop whatever is playing (at stop, after the thread has ended)."""
        if self._playing is not None:
            self._playing[1].stop()
            self._playing = None


class VoiceThread(Worker):
    """Runs a :class:`Voice` in the project's thread shape: the first turn makes missing
    default audio and checks the output; every turn then waits for a lane's snapshot (at most
    until the next prompt is due) and starts what is due."""

    def __init__(self, voice: Voice) -> None:
        super().__init__("voice", IDLE_WAIT_S)
        self.voice = voice
        self._prepared = False
        self._wait_s = 0.0

    def wait(self) -> bool:
        self._wait_s = self.voice.next_wait() if self._prepared else 0.0
        return self.stopping.is_set()

    def step(self) -> None:
        if not self._prepared:
            self._prepared = True
            self.voice.prepare()
            return
        self.voice.step(self._wait_s)

    def wake(self) -> None:
        self.voice.wake()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread, then whatever is playing.

        :raises StopTimeout: the thread still runs after *timeout* seconds.
        """
        try:
            super().stop(timeout)
        finally:
            self.voice.silence()


class AlsaPlayback:
    """One ``aplay`` playing a clip."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.error: str | None = None

    def done(self) -> bool:
        code = self.process.poll()
        if code is None:
            return False
        if code not in (0, -15) and self.error is None:
            rest = (
                self.process.stderr.read().decode("utf-8", "replace") if self.process.stderr else ""
            )
            self.error = _last_line(rest) or f"aplay exited with {code}"
        if self.process.stderr:
            self.process.stderr.close()
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(1.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(1.0)
        if self.process.stderr:
            self.process.stderr.close()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class AlsaOutput:
    """The kiosk's own audio output: ALSA PCM *device*, played with ``aplay`` (alsa-utils).

    :param device: an ALSA PCM name (``default``, ``plughw:0,0``, ``null``, ...).
    :param cache: folder for the volume-scaled copies of the prompt files.
    """

    needs_files = True

    def __init__(self, device: str, cache: Path, *, aplay: str = "aplay") -> None:
        self.device = device
        self.cache = Path(cache)
        self.aplay = aplay
        self._scaled: dict[tuple[Path, float, int], Path] = {}

    def _at_volume(self, path: Path, volume: float) -> Path:
        if volume >= 1.0:
            return path
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as exc:
            raise AudioError(f"{path}: {exc.strerror or exc}") from None
        key = (path, round(volume, 3), stamp)
        if key not in self._scaled:
            parent = "recorded" if path.parent.name != "default" else "default"
            target = self.cache / f"{round(volume * 100)}" / parent / path.name
            self._scaled[key] = scaled_copy(path, target, volume)
        return self._scaled[key]

    def _spawn(self, files: list[Path]) -> subprocess.Popen:
        program = shutil.which(self.aplay)
        if program is None:
            raise AudioError(f"{self.aplay} is not installed (apt-get install alsa-utils)")
        try:
            process = subprocess.Popen(
                [program, "-N", "-D", self.device, "--", *map(str, files)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise AudioError(f"cannot run {self.aplay}: {exc}") from None
        # aplay says "Playing WAVE ..." once the device is open and playback starts
        heard = b""
        while b"Playing" not in heard:
            ready, _, _ = select.select([process.stderr], [], [], START_TIMEOUT_S)
            if not ready:
                process.kill()
                process.wait()
                process.stderr.close()
                raise AudioError(
                    f"ALSA device {self.device!r} did not start within {START_TIMEOUT_S:g} s"
                )
            chunk = process.stderr.read1(4096) if hasattr(process.stderr, "read1") else b""
            if not chunk:  # aplay exited before it played
                process.wait()
                process.stderr.close()
                message = _last_line(heard.decode("utf-8", "replace"))
                raise AudioError(f"ALSA device {self.device!r}: {message or 'aplay failed'}")
            heard += chunk
        return process

    def play(self, clip, volume: float, lane: str | None = None) -> AlsaPlayback:
        """Start playing *clip* at *volume* (0..1); returns once the device plays.

        :raises AudioError: the clip has no audio file, or the device cannot play.
        """
        if not clip.files:
            raise AudioError(f"prompt {clip.name!r} has no audio file: run `kiosk voice build`")
        files = [self._at_volume(path, volume) for path in clip.files]
        return AlsaPlayback(self._spawn(files))

    def check(self) -> str | None:
        """Open the device with a twentieth of a second of silence: ``None`` when it plays,
        else what is wrong."""
        silence = self.cache / "silence.wav"
        try:
            if not silence.is_file():
                silence.parent.mkdir(parents=True, exist_ok=True)
                with wave.open(str(silence), "wb") as out:
                    out.setnchannels(1)
                    out.setsampwidth(2)
                    out.setframerate(22050)
                    out.writeframes(b"\0\0" * 1102)
            playback = AlsaPlayback(self._spawn([silence]))
        except (AudioError, OSError) as exc:
            return str(exc)
        try:
            playback.process.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            playback.stop()
            return f"ALSA device {self.device!r} does not finish playing"
        playback.done()
        return playback.error

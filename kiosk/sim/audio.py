"""The simulated world's loudspeaker: it records every prompt played, on the world's clock.

With a real output behind it (``forward``, e.g. the machine's ALSA output in ``kiosk demo``)
it also plays the prompt there, so a demo speaks through the machine's audio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kiosk.errors import AudioError


@dataclass(frozen=True)
class Played:
    """One prompt as the simulated speaker heard it: monotonic *t* (s) when it started."""

    t: float
    lane: str | None
    prompt: str
    text: str
    volume: float
    duration_s: float

    def to_json(self) -> dict:
        """The shape ``kiosk simulate --prompts`` prints."""
        return {"t": round(self.t, 3), "lane": self.lane, "prompt": self.prompt, "text": self.text}


class SimPlayback:
    """A clip playing on the simulated speaker: done once its duration has passed on the
    clock (or it was stopped)."""

    def __init__(self, clock, end: float, forwarded=None) -> None:
        self.clock = clock
        self.end = end
        self.forwarded = forwarded
        self.stopped = False
        self.error: str | None = None

    def done(self) -> bool:
        if self.forwarded is not None and self.forwarded.done():
            self.error = getattr(self.forwarded, "error", None)
        return self.stopped or self.clock.monotonic() >= self.end

    def stop(self) -> None:
        self.stopped = True
        if self.forwarded is not None:
            self.forwarded.stop()


class SimAudio:
    """The simulated speaker.

    :param clock: the world's clock.
    :param forward: a real output to play through as well (``None``: record only).
    """

    def __init__(self, clock, *, forward=None) -> None:
        self.clock = clock
        self.forward = forward
        self.played: list[Played] = []
        #: Fault hook: when set, every play fails with this message (a broken speaker).
        self.broken: str | None = None
        #: Fault hook: when set, play blocks until this event is set (a hung sound driver).
        self.hang: threading.Event | None = None

    @property
    def needs_files(self) -> bool:
        return self.forward is not None and self.forward.needs_files

    def play(self, clip, volume: float, lane: str | None = None) -> SimPlayback:
        if self.hang is not None:
            self.hang.wait()
        if self.broken:
            raise AudioError(self.broken)
        forwarded = self.forward.play(clip, volume, lane) if self.forward is not None else None
        now = self.clock.monotonic()
        self.played.append(Played(now, lane, clip.name, clip.text, volume, clip.duration_s))
        return SimPlayback(self.clock, now + clip.duration_s, forwarded)

    def check(self) -> str | None:
        if self.broken:
            return self.broken
        return self.forward.check() if self.forward is not None else None

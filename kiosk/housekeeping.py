"""Housekeeping from the daemon's main loop, about once a second: write the events the
journal holds in memory, take a roster another process stored, raise or clear the gate-wide
storage alerts, and now and then apply retention and the journal's size cap."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import retention
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

#: Seconds between retention runs (personal data purge and the size cap).
RETENTION_EVERY_S = 3600.0


@dataclass
class Housekeeping:
    """The daemon's periodic chores.

    :param journal: the :class:`kiosk.journal.Journal`.
    :param settings: ``[journal]`` (:class:`kiosk.config.JournalSettings`).
    :param data_dir: the data folder whose free space is watched.
    :param clock: the injected clock (``monotonic()`` paces retention).
    :param rosters: the :class:`kiosk.roster_holder.RosterHolder` to refresh.
    :param alert: ``(source, problem)`` raises (a non-empty *problem*) or clears a storage
        alert; called only when it changes.
    """

    journal: Any
    settings: Any
    data_dir: Path
    clock: Any
    rosters: Any
    alert: Callable[[str, str], None]
    _raised: dict[str, str] = field(default_factory=dict)  # source -> problem on screen
    _next_retention: float = 0.0

    def step(self) -> None:
        """Do what is due now. Never raises."""
        try:
            self._step()
        except Exception:
            log.exception("maintenance failed")

    def _step(self) -> None:
        settings = self.settings
        self.journal.flush()
        self.rosters.reload_if_changed()
        now = self.clock.monotonic()
        if now >= self._next_retention:
            self._next_retention = now + RETENTION_EVERY_S
            try:
                retention.purge_personal(self.journal, settings.retention_days)
                over = not retention.enforce_size(self.journal, settings.max_size_mb << 20)
            except KioskError as exc:
                log.error("retention: %s", exc)
                over = False
            self._set("storage", "journal over its size cap / 记录超出容量" if over else "")
        self._set(
            "journal",
            f"cannot write / 无法写入 ({self.journal.pending} waiting)"
            if self.journal.problem
            else "",
        )
        free_mb = free_mib(self.data_dir)
        if free_mb is not None:
            low = free_mb < settings.min_free_mb
            self._set("disk", f"{free_mb} MiB free / 磁盘空间不足" if low else "")

    def _set(self, source: str, problem: str) -> None:
        if self._raised.get(source, "") == problem:
            return
        if problem:
            self._raised[source] = problem
            log.error("storage alert %s: %s", source, problem)
        else:
            self._raised.pop(source, None)
        self.alert(source, problem)


def free_mib(folder) -> int | None:
    """Free space of *folder*'s file system in MiB, or ``None`` when it cannot be asked."""
    try:
        return shutil.disk_usage(folder).free >> 20
    except OSError:
        return None

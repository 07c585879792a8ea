"""A plain-text progress bar on stderr: done/total, elapsed time and time remaining."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` for a duration [s]."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def day_clock(t: float) -> str:
    """``HH:MM`` for a simulation time in seconds of the day."""
    minutes = round(t / 60.0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class ProgressBar:
    """Counts finished items and shows ``[####....] 3/8 cells  elapsed 0:41  ETA 1:08``.

    On a terminal the line is redrawn in place; otherwise (a log file, CI) each update is a
    line of its own. The time remaining is the mean time per item finished so far times the
    items left (items skipped before the start do not count).
    """

    def __init__(self, total: int, *, unit: str = "cells", stream: TextIO | None = None,
                 width: int = 24) -> None:
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self.failed = 0
        self.started = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, *, failed: bool = False, note: str = "") -> None:
        """One more item finished (*failed* counts it as a failure too); redraw."""
        self.done += 1
        self.failed += int(failed)
        self.show(note)

    def line(self, note: str = "") -> str:
        """The bar's text as it stands."""
        elapsed = time.perf_counter() - self.started
        filled = round(self.width * self.done / self.total) if self.total else self.width
        eta = (elapsed / self.done * (self.total - self.done)) if self.done else None
        parts = [f"[{'#' * filled}{'.' * (self.width - filled)}]",
                 f"{self.done}/{self.total} {self.unit}",
                 f"elapsed {clock(elapsed)}",
                 f"ETA {clock(eta) if eta is not None else '?'}"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if note:
            parts.append(note)
        return "  ".join(parts)

    def show(self, note: str = "") -> None:
        text = self.line(note)
        if self._tty:
            end = "\n" if self.done >= self.total else ""
            self.stream.write(f"\r\x1b[2K{text}{end}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

"""A one-line progress bar on stderr: done/total, points per second and ETA.

On a terminal it redraws in place; otherwise (logs, CI) it prints a line every 10% so logs stay
short. Rate and ETA count only points computed in this run (resumed points are excluded)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, already_done: int = 0, label: str = "points",
                 stream: TextIO | None = None, enabled: bool = True, width: int = 28) -> None:
        self.total, self.done, self.start_done = total, already_done, already_done
        self.label, self.width, self.enabled = label, width, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self._last_decile = -1
        self.failed = 0

    @property
    def rate_per_s(self) -> float:
        elapsed = time.perf_counter() - self.t0
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        rate = self.rate_per_s
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta_text = _clock(eta) if eta == eta else "--:--:--"
        fail = f", {self.failed} failed" if self.failed else ""
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {self.label}"
                f" {rate:.2f} {self.label}/s ETA {eta_text}{fail}")

    def update(self, n: int = 1, failed: int = 0) -> None:
        self.done += n
        self.failed += failed
        self._draw()

    def _draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
            self.stream.flush()
            return
        decile = int(10 * self.done / self.total) if self.total else 10
        if decile != self._last_decile or final:
            self._last_decile = decile
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def start(self) -> None:
        self._draw()

    def finish(self) -> None:
        if self.tty and self.enabled:
            self._draw(final=True)

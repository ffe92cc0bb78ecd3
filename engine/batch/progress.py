"""Batch progress: files done / failed / left, throughput and ETA.

On a terminal one bar is redrawn (at most 5 times a second); when piped, a status
line is printed at each tenth of the work or every 30 seconds, so a log of a
100,000-file run stays readable. Failures are printed as they happen either way.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

BAR = 24
LINE_EVERY_S = 30.0


def duration(seconds: float) -> str:
    """3h05m, 4m07s, 12s: as precise as a person planning their day needs."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class BatchProgress:
    """Counts outcomes and shows them; the counts also feed the final summary."""

    def __init__(
        self,
        total: int,
        done_before: int = 0,
        failed_before: int = 0,
        stream: TextIO | None = None,
        quiet: bool = False,
    ) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.total = total
        self.done_before = done_before
        self.failed_before = failed_before
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self._drawn = 0.0
        self._line_at = self.start
        self._tenth = -1
        self.devices: Counter[str] = Counter()  # the device that really ran each file

    def begin(self) -> None:
        """Start the clock for throughput and ETA once the workers are up (a Ray start
        takes seconds that say nothing about the files to come)."""
        self.start = self._line_at = time.monotonic()

    @property
    def left(self) -> int:
        return self.total - self.done_before - self.failed_before - self.done - self.failed

    def rate(self) -> float:
        """Files per second finished in this run."""
        elapsed = time.monotonic() - self.start
        return (self.done + self.failed) / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        rate = self.rate()
        eta = duration(self.left / rate) if rate > 0 else "?"
        return (
            f"{self.done_before + self.done}/{self.total} done, "
            f"{self.failed_before + self.failed} failed, "
            f"{self.left} left, {rate:.2f} files/s, ETA {eta}"
        )

    def file(self, rel: str, ok: bool, error: str = "", device: str = "") -> None:
        """Count one finished file; a failure is shown at once, with its reason."""
        if ok:
            self.done += 1
            if device:
                self.devices[device] += 1
        else:
            self.failed += 1
            self._clear()
            self.stream.write(f"FAILED  {rel}: {error}\n")
            self.stream.flush()
        self.tick()

    def tick(self) -> None:
        """Redraw the bar, or print a status line when one is due."""
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._drawn < 0.2 and self.left:
                return  # the last file always draws: the bar ends on the true counts
            self._drawn = now
            finished = self.total - self.left
            filled = BAR * finished // max(1, self.total)
            text = f"\r[{'#' * filled}{'-' * (BAR - filled)}] {self.status()}"
            self.stream.write(text[:120].ljust(120))
            self.stream.flush()
            return
        tenth = 10 * (self.total - self.left) // max(1, self.total)
        if tenth != self._tenth or now - self._line_at >= LINE_EVERY_S:
            self._tenth, self._line_at = tenth, now
            self.stream.write(self.status() + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self.tty and self._drawn and not self.quiet:
            self.stream.write("\r" + " " * 120 + "\r")

    def finish(self) -> None:
        """End the bar's line so the summary starts clean."""
        if self.tty and self._drawn and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()

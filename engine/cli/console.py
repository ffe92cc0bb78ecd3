"""Progress on a terminal: a redrawn bar on a TTY, plain lines when piped."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from engine.jobs import Emitter, Event, Progress


class ConsoleProgress:
    """Turns job events into terminal output without flooding logs.

    On a TTY the bar is redrawn at most 10 times a second; when piped, a line is
    printed when the stage changes or every 10 percent.
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._stage = ""
        self._last_decile = -1
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            self.show(event.fraction, event.stage, event.message)

    def show(self, fraction: float, stage: str, message: str = "") -> None:
        if self.quiet:
            return
        percent = int(round(fraction * 100))
        if self.tty:
            now = time.monotonic()
            if stage == self._stage and fraction < 1.0 and now - self._last_draw < 0.1:
                return
            self._last_draw, self._stage = now, stage
            filled = int(fraction * 30)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"\r[{bar}] {percent:3d}% {stage}" + (f": {message}" if message else "")
            self.stream.write(text[:110].ljust(110))
            self.stream.flush()
            self._drawn = True
            return
        decile = percent // 10
        if stage != self._stage or decile != self._last_decile:
            self._stage, self._last_decile = stage, decile
            suffix = f" ({message})" if message else ""
            self.stream.write(f"{percent:3d}% {stage}{suffix}\n")
            self.stream.flush()

    def done(self) -> None:
        """End the bar's line so the next output starts clean."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def emitter(self) -> Emitter:
        return Emitter(self, preview_interval=float("inf"))

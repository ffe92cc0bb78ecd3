"""The valid range of every numeric option, in one place for the CLI, GUI and pipelines.

An out-of-range value is refused with a sentence that names the option and its range
(``--tile must be between 64 and 8192, not 16``), at the command line by argparse
(``type=TILE.parse``), in the app by the spin boxes' ranges (``TILE.low``/``high``),
and once more by the pipelines (``TILE.check``), which the batch dialog and scripts
reach without either front end.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from engine.errors import HeirloomError


@dataclass(frozen=True)
class Limit:
    """A closed range [low, high] (``open_low``: (low, high]) for one option."""

    option: str
    low: float
    high: float
    integer: bool = False
    open_low: bool = False

    def describe(self) -> str:
        low = f"{self.low:g}" if not self.integer else str(int(self.low))
        high = f"{self.high:g}" if not self.integer else str(int(self.high))
        if self.open_low:
            return f"greater than {low} and at most {high}"
        return f"between {low} and {high}"

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed, or None when it is."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{self.option} must be a number {self.describe()}"
        if not math.isfinite(value) or (self.integer and value != int(value)):
            kind = "a whole number" if self.integer else "a number"
            return f"{self.option} must be {kind} {self.describe()}, not {value}"
        too_low = value <= self.low if self.open_low else value < self.low
        if too_low or value > self.high:
            return f"{self.option} must be {self.describe()}, not {value:g}"
        return None

    def check(self, value: float | None) -> None:
        """Raise :class:`HeirloomError` for a value out of range (None: not set)."""
        if value is None:
            return
        problem = self.problem(value)
        if problem:
            raise HeirloomError(problem)

    def parse(self, text: str) -> float | int:
        """argparse ``type=``: the number, or a one-line usage error naming the range."""
        try:
            value: float | int = int(text) if self.integer else float(text)
        except ValueError:
            kind = "a whole number" if self.integer else "a number"
            raise argparse.ArgumentTypeError(
                f"'{text}' is not {kind} ({self.describe()})"
            ) from None
        problem = self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem.replace(f"{self.option} must be", "must be"))
        return value


TILE = Limit("tile size", 64, 8192, integer=True)  # each pack may need more: smallest_tile
THRESHOLD = Limit("scratch threshold", 0.0, 1.0, open_low=True)
SMOOTHING = Limit("smoothing", 0.0, 1.0)
STRENGTH = Limit("strength", 0.0, 1.0, open_low=True)  # SDEdit: 0 would change nothing
QUALITY = Limit("quality", 1, 100, integer=True)
DETAIL = Limit("detail", 0.0, 1.0)
STEPS = Limit("steps", 1, 1000, integer=True)
ETA = Limit("eta", 0.0, 1.0)
SEED = Limit("seed", 0, 2**32 - 1, integer=True)
COUNT = Limit("count", 1, 64, integer=True)
DRAWS = Limit("draws", 1, 16, integer=True)
JUMP_LENGTH = Limit("jump length", 1, 1000, integer=True)
JUMP_N_SAMPLE = Limit("jump n sample", 1, 20, integer=True)
CONTEXT = Limit("context", 0, 1024, integer=True)
MEMORY_MB = Limit("memory budget (MB)", 64, 1 << 20, integer=True)
THREADS = Limit("threads", 0, 256, integer=True)
WORKERS = Limit("workers", 1, 4096, integer=True)
ATTEMPTS = Limit("attempts", 1, 100, integer=True)

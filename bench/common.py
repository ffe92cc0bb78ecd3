"""Small helpers shared by the benchmarks: medians over repeats, peak memory, tables.

Benchmarks measure ratios side by side in one run (ours vs. a baseline on the same
machine at the same moment), because absolute times on a shared 2-core machine drift.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One measured line of a benchmark table."""

    bench: str
    case: str
    value: float
    unit: str
    target: str = ""  # e.g. "< 100 ms"; empty when only reported
    ok: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def markdown(rows: list[Row]) -> str:
    lines = ["| bench | case | value | target | ok |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        ok = "" if r.ok is None else ("yes" if r.ok else "**no**")
        lines.append(f"| {r.bench} | {r.case} | {r.value:.4g} {r.unit} | {r.target} | {ok} |")
    return "\n".join(lines) + "\n"

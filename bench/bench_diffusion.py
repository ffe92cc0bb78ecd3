"""Diffusion: sampling speed with the bundled 64 px DDPM, and what previews cost.

- 50 DDIM steps at batch 1 through the engine (:func:`generate` on the CPU), median of
  3 after a warm-up; target < 10 s, so watching a sample form is a matter of seconds.
- Preview overhead of a run with a Preview built and sent after every step (emitter
  interval 0): the time spent inside ``Emitter.preview`` over the rest of the run
  (target < 5 %), and beside it the best-of-5 wall-time ratio against a run without
  previews, interleaved (noisy on a shared machine, so reported, not judged).
- RePaint on one 64 px window (25 steps, jump length 5, 2 samples: 45 model calls),
  reported without a target: the unit cost of inpainting a photo, per window.

Skipped, with the reason, when the ``heirloom-ddpm64`` pack is not installed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.common import Row, median_seconds
from engine.errors import PackError
from engine.jobs import Emitter, silent
from engine.models import Registry
from engine.pipelines.diffusion import GenerateOptions, InpaintOptions, generate, inpaint

NAME = "diffusion"
PACK = "heirloom-ddpm64"
SPEED_TARGET = 10.0  # seconds for 50 steps
OVERHEAD_TARGET = 0.05
CASES = (
    "50 DDIM steps, batch 1",
    "preview every step vs none",
    "RePaint one 64 px window, one draw",
    f"RePaint one 64 px window, mean of {InpaintOptions.draws} draws (default)",
)


def _skipped(reason: str) -> list[Row]:
    units = ("s", "%", "s", "s")
    targets = (f"< {SPEED_TARGET:.0f} s", f"< {OVERHEAD_TARGET * 100:.0f} %", "", "")
    return [
        Row(NAME, f"{case} (skipped)", float("nan"), unit, target, None, {"skipped": reason})
        for case, unit, target in zip(CASES, units, targets, strict=True)
    ]


class _TimedEmitter(Emitter):
    """An emitter that also adds up the time spent building and sending previews."""

    def __init__(self) -> None:
        super().__init__(lambda event: None, preview_interval=0.0)
        self.seconds = 0.0

    def preview(
        self,
        image: np.ndarray | Callable[[], np.ndarray],
        step: int,
        total: int,
        label: str = "",
    ) -> None:
        start = time.perf_counter()
        super().preview(image, step, total, label)
        self.seconds += time.perf_counter() - start


def preview_overhead(options: GenerateOptions, registry: Registry, rounds: int = 5) -> dict:
    """What previews on every step cost, measured two ways.

    ``timed``: seconds inside ``Emitter.preview`` (building the x0 image and sending it)
    over the rest of the run, which is exact but misses indirect costs (cache, GC);
    ``a_b``: best-of-``rounds`` wall time with previews over without, interleaved,
    which sees everything but carries the machine's noise.
    """
    with_previews, without, timed = [], [], []
    for _ in range(rounds):
        emit = _TimedEmitter()
        start = time.perf_counter()
        generate(options, emit, registry=registry)
        with_previews.append(time.perf_counter() - start)
        timed.append(emit.seconds / (with_previews[-1] - emit.seconds))
        assert emit.previews_sent == options.steps
        start = time.perf_counter()
        generate(options, silent(), registry=registry)
        without.append(time.perf_counter() - start)
    return {"timed": statistics.median(timed), "a_b": min(with_previews) / min(without) - 1}


def run(registry: Registry | None = None) -> list[Row]:
    registry = registry or Registry()
    try:
        pack = registry.get(PACK)
    except PackError as exc:
        return _skipped(str(exc))
    options = GenerateOptions(steps=50, seed=0, model=pack.name, device="cpu")
    info = generate(options, registry=registry).info  # warm-up: the session is created here
    seconds = median_seconds(lambda: generate(options, registry=registry), repeats=3, warmup=0)
    overhead = preview_overhead(options, registry)
    height, width = pack.manifest.size_rule.fixed or (64, 64)
    rng = np.random.default_rng(0)
    photo = rng.random((height, width, 3)).astype(np.float32)
    hole = np.zeros((height, width), bool)
    hole[height // 3 : height // 2, :] = True
    windows = []
    for draws in (1, InpaintOptions.draws):  # side by side: what averaging costs
        fill = InpaintOptions(seed=0, model=pack.name, device="cpu", draws=draws)
        windows.append(
            median_seconds(lambda f=fill: inpaint(photo, hole, f, registry=registry), repeats=3)
        )
    extra = {"device": info["device"], "model": pack.name}
    return [
        Row(NAME, CASES[0], seconds, "s", f"< {SPEED_TARGET:.0f} s", seconds < SPEED_TARGET, extra),
        Row(
            NAME,
            CASES[1],
            overhead["timed"] * 100,
            "%",
            f"< {OVERHEAD_TARGET * 100:.0f} %",
            overhead["timed"] < OVERHEAD_TARGET,
            {**extra, "wall_time_a_b_percent": round(overhead["a_b"] * 100, 2)},
        ),
        Row(NAME, CASES[2], windows[0], "s", "", None, extra),
        Row(
            NAME,
            CASES[3],
            windows[1],
            "s",
            "",
            None,
            {**extra, "x_one_draw": round(windows[1] / windows[0], 2)},
        ),
    ]

"""The sampler loop: one chain of steps, the samplers as a table, progress and previews.

The step maths (:mod:`engine.ops.schedule`) are pure functions of (x, eps, abar_t,
abar_prev, noise); this module draws the seeded noise, asks the model for eps, takes
the step the chosen sampler (:data:`SAMPLERS`) defines, reports progress and x0
previews and checks cancellation between steps. Every random draw happens here, in a
fixed order, so a seed gives the same picture every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.cancel import CancelToken
from engine.jobs import Emitter, StepCount
from engine.ops.schedule import (
    Schedule,
    ddim_step,
    ddpm_step,
    forward_jump,
    repaint_levels,
    repaint_merge,
    strided_timesteps,
)
from engine.pipelines.diffusion.model import EpsModel
from engine.pipelines.diffusion.options import DiffusionError, SamplerOptions

Draw = Callable[[tuple[int, ...]], np.ndarray]
"""Standard normal noise of a shape, from the job's generator."""


def noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def paired_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise for ``n = shape[0]`` draws in antithetic pairs: the last
    ``n // 2`` draws get the first ``n // 2`` draws' noise negated (an odd middle draw has
    its own). The mean of a pair cancels what the fill does linearly with its noise, so
    2 paired draws average out about as much as 4 independent ones (decision 0012)."""
    draws = shape[0]
    half = noise(rng, (draws - draws // 2, *shape[1:]))
    return np.concatenate([half, -half[: draws // 2]])


# --- the samplers ---------------------------------------------------------------


@dataclass(frozen=True)
class SamplerRule:
    """How one sampler takes a step: whether it draws fresh noise for it (never on the
    last step, onto the clean image), and the step itself -> (x at the next level, x0)."""

    wants_noise: Callable[[SamplerOptions, bool], bool]
    step: Callable[..., tuple[np.ndarray, np.ndarray]]


def _ddpm(x, eps, abar_t, abar_prev, fresh, schedule: Schedule, options: SamplerOptions):
    return ddpm_step(x, eps, abar_t, abar_prev, fresh, schedule.variance_type, schedule.clip_sample)


def _ddim(x, eps, abar_t, abar_prev, fresh, schedule: Schedule, options: SamplerOptions):
    return ddim_step(x, eps, abar_t, abar_prev, options.eta, fresh, schedule.clip_sample)


SAMPLERS: dict[str, SamplerRule] = {
    "ddpm": SamplerRule(lambda options, last: not last, _ddpm),  # ancestral (Algorithm 2)
    "ddim": SamplerRule(lambda options, last: options.eta > 0 and not last, _ddim),
}


def check_sampling(options: SamplerOptions, model: EpsModel) -> None:
    """The options every job shares, against the model's schedule."""
    total = model.schedule.num_train_timesteps
    if not 1 <= options.steps <= total:
        raise DiffusionError(
            f"steps must be between 1 and {total} (the model's training steps), not {options.steps}"
        )
    if options.sampler not in SAMPLERS:
        raise DiffusionError(f"sampler must be 'ddim' or 'ddpm', not '{options.sampler}'")
    if not 0.0 <= options.eta <= 1.0:
        raise DiffusionError(f"eta must be between 0 and 1, not {options.eta}")
    if options.max_batch < 1:
        raise DiffusionError("max_batch must be at least 1")


def take_step(
    x: np.ndarray,
    eps: np.ndarray,
    t: int,
    t_next: int,
    schedule: Schedule,
    options: SamplerOptions,
    draw: Draw,
) -> tuple[np.ndarray, np.ndarray]:
    """One step of ``options.sampler`` from timestep ``t`` to ``t_next`` (-1: the clean
    image); returns (x at ``t_next``, the predicted clean x0)."""
    rule = SAMPLERS[options.sampler]
    fresh = draw(x.shape) if rule.wants_noise(options, t_next < 0) else None
    return rule.step(x, eps, schedule.abar(t), schedule.abar(t_next), fresh, schedule, options)


# --- the chain of steps ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Chain:
    """The timesteps a job visits and the order of its levels (see
    :func:`engine.ops.schedule.repaint_levels`): level k >= 1 sits at ``timesteps[-k]``,
    level 0 is the clean image. A rise between levels is a RePaint jump back up."""

    timesteps: np.ndarray
    levels: tuple[int, ...]

    @classmethod
    def plain(cls, start: int, count: int) -> Chain:
        """``count`` strided steps down from timestep ``start`` to the clean image."""
        return cls(strided_timesteps(start, count), tuple(range(count, -1, -1)))

    @classmethod
    def repaint(cls, start: int, count: int, jump_length: int, jump_n_sample: int) -> Chain:
        """The same steps with RePaint's resampling jumps."""
        levels = repaint_levels(count, jump_length, jump_n_sample)
        return cls(strided_timesteps(start, count), tuple(levels))

    def t_of(self, level: int) -> int:
        return int(self.timesteps[len(self.timesteps) - level]) if level >= 1 else -1

    @property
    def first(self) -> int:
        """The timestep the chain starts from."""
        return int(self.timesteps[0])

    def moves(self) -> Iterator[tuple[int, int, bool]]:
        """(t, t_next, down) for each move; down moves are model steps, up ones jumps."""
        for here, there in zip(self.levels, self.levels[1:], strict=False):
            yield self.t_of(here), self.t_of(there), there < here

    @property
    def model_calls(self) -> int:
        """Model steps (each one call per batch)."""
        return sum(1 for a, b in zip(self.levels, self.levels[1:], strict=False) if b < a)


# --- progress -----------------------------------------------------------------------


class Ticker:
    """Counts model calls across the job's parts (batches of windows or images); reports
    progress and (throttled) previews. Previews count calls over the whole job; the
    progress message says the step within the part, as a person reads it."""

    def __init__(
        self, emit: Emitter, cancel: CancelToken, calls: int, parts: int, stage: str
    ) -> None:
        self.emit, self.cancel, self.stage = emit, cancel, stage
        self.calls, self.parts, self.total = calls, parts, calls * parts
        self.done = 0

    def after_call(self, make_preview: Callable[[], np.ndarray]) -> None:
        self.done += 1
        part, step = divmod(self.done - 1, self.calls)
        count = StepCount(step + 1, self.calls, part + 1, self.parts)
        message = f"step {count.step}/{count.steps}"
        if count.parts > 1:
            message += f" of part {count.part}/{count.parts}"
        self.emit.progress(self.done / self.total, self.stage, message, count)
        self.emit.preview(make_preview, self.done, self.total)


class StepTicker:
    """Progress per step of a whole fill (planning steps included), one part; previews
    of the whole photo as it stands. Carries the job's cancel token."""

    def __init__(self, emit: Emitter, cancel: CancelToken, steps: int) -> None:
        self.emit, self.cancel, self.steps, self.done = emit, cancel, steps, 0
        self.stage = "inpainting"

    def __call__(self, make_preview: Callable[[], np.ndarray]) -> None:
        self.done += 1
        count = StepCount(self.done, self.steps)
        message = f"step {count.step}/{count.steps}"
        self.emit.progress(self.done / self.steps, self.stage, message, count)
        self.emit.preview(make_preview, self.done, self.steps)


# --- the loop ---------------------------------------------------------------------


def denoise(
    model: EpsModel,
    x: np.ndarray,
    chain: Chain,
    options: SamplerOptions,
    rng: np.random.Generator,
    ticker: Ticker,
    preview: Callable[[np.ndarray], np.ndarray],
    known: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Walk ``chain`` from ``x`` (an NCHW batch in the model's range); return the clean
    batch. With ``known`` and ``keep`` (1 = known) every step re-imposes the known pixels
    at the new level (RePaint). ``preview`` turns an x0 batch into the image a Preview
    event carries; it is only called when the emitter will send it."""
    schedule = model.schedule

    def draw(shape: tuple[int, ...]) -> np.ndarray:
        return noise(rng, shape)

    for t, t_next, down in chain.moves():
        if not down:
            x = forward_jump(x, schedule.abar(t), schedule.abar(t_next), draw(x.shape))
            continue
        ticker.cancel.check()
        eps = model(x, t, ticker.cancel)
        x, x0 = take_step(x, eps, t, t_next, schedule, options, draw)
        if known is not None and keep is not None:
            fresh = None if t_next < 0 else draw(x.shape)
            x = repaint_merge(x, known, keep, schedule.abar(t_next), fresh)
            x0 = keep * known + (1.0 - keep) * x0
        ticker.after_call(lambda x0=x0: preview(x0))
    return x

"""Diffusion jobs around an ONNX noise-prediction (``ddpm-eps``) model.

Three user jobs share one sampler loop (:func:`_denoise`): ``generate`` samples from
noise, ``inpaint`` fills a mask with RePaint (Lugmayr et al. 2022), ``edit`` runs
SDEdit (Meng et al. 2022): noise the photo to a strength, then denoise. The maths is
in :mod:`engine.pipelines.schedule`; this module feeds the model, draws the seeded
noise, reports progress and x0 previews, and checks cancellation between steps.

Photos larger than the model's fixed size are worked on in model-size windows: the
region to change is cut into *cores* (a window minus ``context`` pixels on each side),
only cores holding region pixels get a window, and each window writes only its own
core. Windows run in four waves (a 2x2 colouring of the core grid); a window sees the
cores finished by earlier waves as known pixels, so neighbouring fills agree, and the
windows of one wave are batched into one model call. Pixels outside the region are
returned bit-for-bit unchanged.

Decisions: an image smaller than the model's size is refused (upscale it first); an
empty mask is an error; a mask covering the whole photo is an error for ``inpaint``
(nothing is left to fill from: that is ``generate``) and means "edit everything" for
``edit``. Grayscale photos are run as RGB and the changed pixels returned as luma.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from engine import arrays
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError, PackError
from engine.jobs import Emitter, Result, StepCount, silent
from engine.models import ModelPack, Registry
from engine.pipelines.schedule import (
    Schedule,
    ddim_step,
    ddpm_step,
    forward_jump,
    q_sample,
    repaint_levels,
    repaint_merge,
    strided_timesteps,
)
from engine.pipelines.texture import borrow_texture
from engine.runtime import Device, Session, open_pack

TASK = "ddpm-eps"
Sampler = Literal["ddim", "ddpm"]
MAX_COUNT = 64
_INT_DTYPES = {"int64": np.int64, "int32": np.int32}


class DiffusionError(HeirloomError):
    """Options or inputs the diffusion jobs cannot work with."""


@dataclass(frozen=True)
class SamplerOptions:
    """What every diffusion job takes. ``seed`` None draws one (reported in ``info``)."""

    steps: int = 50
    seed: int | None = None
    sampler: Sampler = "ddim"
    eta: float = 0.0  # DDIM only: 0 deterministic, 1 DDPM-like noise
    model: str | None = None
    device: Device = "auto"
    max_batch: int = 16  # images per model call; bounds memory, not results


@dataclass(frozen=True)
class GenerateOptions(SamplerOptions):
    count: int = 1


@dataclass(frozen=True)
class InpaintOptions(SamplerOptions):
    """RePaint from a Telea fill noised to ``strength`` (1 = from pure noise), in
    ``round(steps * strength)`` ancestral steps; ``jump_n_sample - 1`` resampling jumps
    of ``jump_length`` strided steps every ``jump_length`` steps (1 = no resampling).
    The defaults were chosen on validation holes (decision 0012): 4 model steps, each
    one call for every window and draw of the photo. A photo whose windows x draws
    exceed ``step_images`` (a large one) is filled with one antithetic pair of draws
    and, unless ``context`` is given, no context: see :func:`fill_budget`."""

    steps: int = 16
    sampler: Sampler = "ddpm"
    jump_length: int = 5
    jump_n_sample: int = 1
    context: int | None = None  # px around each core; None = an eighth of the model size
    draws: int = 4  # fills sampled per window and averaged, in antithetic pairs; at most
    step_images: int | None = 64  # windows x draws per step before the fill thins; None: never
    strength: float = 0.25  # 1: from pure noise; below: from a Telea fill noised this far
    max_batch: int = 64  # images per model call (windows x draws of a step); bounds memory


@dataclass(frozen=True)
class EditOptions(SamplerOptions):
    """SDEdit: ``strength`` in (0, 1] is how far up the chain the photo is noised;
    ``round(steps * strength)`` model steps bring it back."""

    strength: float = 0.5
    context: int | None = None


# --- the model ------------------------------------------------------------------


@dataclass(frozen=True)
class EpsModel:
    """An eps-prediction graph plus what its manifest says about feeding it."""

    pack: ModelPack
    session: Session
    schedule: Schedule
    size: tuple[int, int]
    sample_name: str
    timestep_name: str
    timestep_dtype: type
    value_range: tuple[float, float]

    def __call__(self, sample: np.ndarray, t: int, cancel: CancelToken = NEVER) -> np.ndarray:
        """eps for an NCHW batch at timestep ``t`` (the same for every image)."""
        timestep = np.full((sample.shape[0],), t, dtype=self.timestep_dtype)
        feeds = {self.sample_name: np.ascontiguousarray(sample, np.float32)}
        feeds[self.timestep_name] = timestep
        return self.session.run(feeds, cancel)[0]

    def to_model(self, pixels: np.ndarray) -> np.ndarray:
        low, high = self.value_range
        return (pixels * (high - low) + low).astype(np.float32)

    def to_pixels(self, values: np.ndarray) -> np.ndarray:
        low, high = self.value_range
        return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)


def load_model(
    registry: Registry | None = None, name: str | None = None, device: Device = "auto"
) -> EpsModel:
    """Find and open the ``ddpm-eps`` pack; refuse, in one sentence, one we cannot feed."""
    pack = (registry or Registry()).for_task(TASK, name)
    m = pack.manifest
    # the manifest's shape for the task was checked when it was read (check_task_io)
    sample = next(s for s in m.inputs if s.layout == "NCHW")
    timestep = next(s for s in m.inputs if s.layout == "N")
    if timestep.dtype not in _INT_DTYPES:
        raise PackError(
            f"model pack '{m.name}' takes a {timestep.dtype} timestep, but Heirloom's sampler "
            "feeds integer timesteps; re-export it with an int64 timestep input"
        )
    size = m.size_rule.fixed or tuple(m.options.get("sample_size") or ())
    if len(size) != 2:
        raise PackError(f"model pack '{m.name}' does not say its sample size (size_rule.fixed)")
    schedule = Schedule.from_options(m.options, m.name)
    session = open_pack(pack, device)  # refuses a graph whose timestep type differs
    return EpsModel(
        pack=pack,
        session=session,
        schedule=schedule,
        size=(int(size[0]), int(size[1])),
        sample_name=sample.name,
        timestep_name=timestep.name,
        timestep_dtype=_INT_DTYPES[timestep.dtype],
        value_range=sample.value_range or (-1.0, 1.0),
    )


# --- the loop -------------------------------------------------------------------


class _Ticker:
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


def _noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _denoise(
    model: EpsModel,
    x: np.ndarray,
    timesteps: np.ndarray,
    levels: list[int],
    options: SamplerOptions,
    rng: np.random.Generator,
    ticker: _Ticker,
    preview: Callable[[np.ndarray], np.ndarray],
    known: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Walk ``levels`` (see :func:`repaint_levels`) from ``x``; return the clean batch.

    Level k >= 1 sits at ``timesteps[-k]``, level 0 is the clean image. With ``known``
    and ``keep`` (1 = known) every step re-imposes the known pixels at the new level.
    ``preview`` turns an x0 batch into the image a Preview event carries; it is only
    called when the emitter will send it.
    """
    schedule = model.schedule
    n = len(timesteps)

    def t_of(level: int) -> int:
        return int(timesteps[n - level]) if level >= 1 else -1

    for here, there in zip(levels, levels[1:], strict=False):
        t, t_next = t_of(here), t_of(there)
        if there > here:
            x = forward_jump(x, schedule.abar(t), schedule.abar(t_next), _noise(rng, x.shape))
            continue
        ticker.cancel.check()
        eps = model(x, t, ticker.cancel)
        abar_t, abar_prev = schedule.abar(t), schedule.abar(t_next)
        last = t_next < 0
        if options.sampler == "ddpm":
            noise = None if last else _noise(rng, x.shape)
            x, x0 = ddpm_step(
                x, eps, abar_t, abar_prev, noise, schedule.variance_type, schedule.clip_sample
            )
        else:
            noise = _noise(rng, x.shape) if options.eta > 0 and not last else None
            x, x0 = ddim_step(x, eps, abar_t, abar_prev, options.eta, noise, schedule.clip_sample)
        if known is not None and keep is not None:
            x = repaint_merge(x, known, keep, abar_prev, None if last else _noise(rng, x.shape))
            x0 = keep * known + (1.0 - keep) * x0
        ticker.after_call(lambda x0=x0: preview(x0))
    return x


def _model_calls(levels: list[int]) -> int:
    return sum(1 for a, b in zip(levels, levels[1:], strict=False) if b < a)


# --- validation -----------------------------------------------------------------


def _check_common(options: SamplerOptions, model: EpsModel) -> None:
    total = model.schedule.num_train_timesteps
    if not 1 <= options.steps <= total:
        raise DiffusionError(
            f"steps must be between 1 and {total} (the model's training steps), not {options.steps}"
        )
    if options.sampler not in ("ddim", "ddpm"):
        raise DiffusionError(f"sampler must be 'ddim' or 'ddpm', not '{options.sampler}'")
    if not 0.0 <= options.eta <= 1.0:
        raise DiffusionError(f"eta must be between 0 and 1, not {options.eta}")
    if options.max_batch < 1:
        raise DiffusionError("max_batch must be at least 1")


def _check_image(image: np.ndarray, model: EpsModel) -> np.ndarray:
    pixels = np.asarray(image, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise DiffusionError(f"expected an RGB or grayscale image, got shape {pixels.shape}")
    (height, width), (mh, mw) = pixels.shape[:2], model.size
    if height < mh or width < mw:
        raise DiffusionError(
            f"the image is {width}x{height} px, smaller than the {mw}x{mh} px that model "
            f"'{model.pack.name}' works on; enlarge it first"
        )
    return pixels


def _check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    region = np.asarray(mask)
    if region.ndim == 3 and region.shape[2] == 1:
        region = region[..., 0]
    if region.shape != shape[:2]:
        raise DiffusionError(
            f"the mask is {region.shape[1] if region.ndim > 1 else '?'}x{region.shape[0]} px "
            f"but the image is {shape[1]}x{shape[0]} px; they must match"
        )
    region = region > 0.5
    if not region.any():
        raise DiffusionError("the mask is empty; paint the area to change first")
    return region


def _rng(options: SamplerOptions) -> tuple[np.random.Generator, int]:
    seed = options.seed
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**32))
    return np.random.default_rng(seed), int(seed)


def _info(model: EpsModel, seed: int, ticker: _Ticker, started: float, **extra: object) -> dict:
    return {
        "device": model.session.describe(),
        "model": model.pack.name,
        "seed": seed,
        "model_calls": ticker.done,
        "seconds": round(time.monotonic() - started, 3),
        **extra,
    }


def _grid(images: np.ndarray) -> np.ndarray:
    """N x H x W x C -> one image, ceil(sqrt(N)) per row, for batch previews."""
    count, height, width, channels = images.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = np.ones((rows * height, cols * width, channels), np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = image
    return grid


# --- generate -------------------------------------------------------------------


def generate(
    options: GenerateOptions,
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Sample ``options.count`` images from noise.

    Returns ``images["image"]`` (HxWx3 in [0, 1]) for one sample, else ``image_1`` ..
    ``image_N``. Previews are the predicted clean images (a grid for a batch).
    """
    emit = emit or silent()
    model = load_model(registry, options.model, options.device)
    _check_common(options, model)
    if not 1 <= options.count <= MAX_COUNT:
        raise DiffusionError(f"count must be between 1 and {MAX_COUNT}, not {options.count}")
    started = time.monotonic()
    rng, seed = _rng(options)
    timesteps = strided_timesteps(model.schedule.num_train_timesteps - 1, options.steps)
    levels = list(range(options.steps, -1, -1))
    chunks = [
        range(i, min(i + options.max_batch, options.count))
        for i in range(0, options.count, options.max_batch)
    ]
    ticker = _Ticker(emit, cancel, _model_calls(levels), len(chunks), "sampling")
    height, width = model.size
    done = np.zeros((options.count, height, width, 3), np.float32)

    def preview(chunk: range, x0: np.ndarray) -> np.ndarray:
        shown = done.copy()
        shown[chunk.start : chunk.stop] = model.to_pixels(x0).transpose(0, 2, 3, 1)
        return shown[0] if options.count == 1 else _grid(shown)

    for chunk in chunks:
        x = _noise(rng, (len(chunk), 3, height, width))
        x = _denoise(
            model, x, timesteps, levels, options, rng, ticker, lambda x0, c=chunk: preview(c, x0)
        )
        done[chunk.start : chunk.stop] = model.to_pixels(x).transpose(0, 2, 3, 1)
    if options.count == 1:
        images = {"image": done[0]}
    else:
        images = {f"image_{i + 1}": done[i] for i in range(options.count)}
    info = _info(model, seed, ticker, started, steps=options.steps, sampler=options.sampler)
    return Result(images=images, info=info)


# --- windows over large photos --------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A model-size window at (``y``, ``x``) that may change only its ``core``."""

    y: int
    x: int
    core: tuple[slice, slice]


def _cores(length: int, size: int, context: int) -> list[tuple[int, int, int]]:
    """(core start, core end, window start) along one axis of ``length`` >= ``size``.

    Cores tile the axis; a core is at most ``size - 2 * context`` long with
    ``context`` pixels of its window on each side, except at the photo's edges, where
    the window cannot extend and its core grows to the edge instead.
    """
    if length <= size:
        return [(0, length, 0)]
    step = size - 2 * context
    spans, start = [], 0
    end = size - context
    while length - start > size - context:
        spans.append((start, end))
        start, end = end, end + step
    spans.append((start, length))
    return [(a, b, min(max(a - context, 0), length - size)) for a, b in spans]


def plan_windows(region: np.ndarray, size: tuple[int, int], context: int) -> list[list[Window]]:
    """The windows whose cores hold region pixels, grouped in up to four waves."""
    height, width = region.shape
    rows, cols = _cores(height, size[0], context), _cores(width, size[1], context)
    waves: list[list[Window]] = [[], [], [], []]
    for r, (y0, y1, wy) in enumerate(rows):
        for c, (x0, x1, wx) in enumerate(cols):
            if region[y0:y1, x0:x1].any():
                core = (slice(y0, y1), slice(x0, x1))
                waves[2 * (r % 2) + c % 2].append(Window(wy, wx, core))
    return [wave for wave in waves if wave]


def _batches(windows: list[Window], size: int) -> Iterator[list[Window]]:
    for i in range(0, len(windows), size):
        yield windows[i : i + size]


def _context(context: int | None, model: EpsModel, share: int = 5) -> int:
    """``context`` checked, or by default ``1 / share`` of the model's side."""
    side = min(model.size)
    value = side // share if context is None else context
    if not 0 <= value < side // 2:
        raise DiffusionError(f"context must be between 0 and {side // 2 - 1} px, not {value}")
    return value


def _run_windows(
    model: EpsModel,
    pixels: np.ndarray,
    region: np.ndarray,
    options: SamplerOptions,
    context: int,
    timesteps: np.ndarray,
    levels: list[int],
    rng: np.random.Generator,
    emit: Emitter,
    cancel: CancelToken,
    *,
    from_noise: bool,
    stage: str,
    draws: int = 1,
) -> tuple[np.ndarray, _Ticker, int]:
    """Change ``region`` of ``pixels`` (HxWx3 in [0, 1]) window by window.

    ``from_noise`` starts each window from pure noise (inpainting), otherwise from the
    window noised to the first timestep (SDEdit). ``draws`` samples of each window run
    side by side in one batch and their mean is kept. Returns the changed image (pixels
    outside ``region`` untouched), the ticker and the number of windows.
    """
    height, width = model.size
    waves = plan_windows(region, model.size, context)
    per_batch = options.max_batch // draws  # inpaint checks draws <= max_batch
    batches = [batch for wave in waves for batch in _batches(wave, per_batch)]
    ticker = _Ticker(emit, cancel, _model_calls(levels), len(batches), stage)
    current = model.to_model(pixels).transpose(2, 0, 1)  # CHW, model range
    todo = region.copy()  # region pixels no window has produced yet
    abar_start = model.schedule.abar(int(timesteps[0]))
    for batch in batches:
        crops = np.stack([current[:, w.y : w.y + height, w.x : w.x + width] for w in batch])
        keep = np.stack([~todo[w.y : w.y + height, w.x : w.x + width] for w in batch])
        crops = np.repeat(crops, draws, axis=0)
        keep = np.repeat(keep, draws, axis=0)[:, None].astype(np.float32)
        start = _noise(rng, crops.shape)
        x = start if from_noise else q_sample(crops, abar_start, start)

        def mean_of_draws(values: np.ndarray) -> np.ndarray:
            return values.reshape(-1, draws, *values.shape[1:]).mean(axis=1)

        def preview(x0: np.ndarray, batch: list[Window] = batch) -> np.ndarray:
            shown = current.copy()
            for window, guess in zip(batch, mean_of_draws(x0), strict=True):
                _paste(shown, guess, window, todo)
            return model.to_pixels(shown.transpose(1, 2, 0))

        x = _denoise(model, x, timesteps, levels, options, rng, ticker, preview, crops, keep)
        for window, result in zip(batch, mean_of_draws(x), strict=True):
            _paste(current, result, window, todo)
            todo[window.core] = False
    return model.to_pixels(current.transpose(1, 2, 0)), ticker, sum(map(len, waves))


def _paste(target: np.ndarray, crop: np.ndarray, window: Window, todo: np.ndarray) -> None:
    """Write ``crop``'s pixels into ``target`` (CHW) inside the window's core, where todo."""
    ys, xs = window.core
    inner = crop[
        :, ys.start - window.y : ys.stop - window.y, xs.start - window.x : xs.stop - window.x
    ]
    target[:, ys, xs] = np.where(todo[ys, xs], inner, target[:, ys, xs])


def _compose(original: np.ndarray, changed_rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``original`` with only ``region`` replaced (as luma for a grayscale original)."""
    changed = arrays.luma(changed_rgb)[..., None] if original.shape[2] == 1 else changed_rgb
    out = original.copy()
    out[region] = changed[region]
    return out


# --- inpaint --------------------------------------------------------------------

DEEP = 4  # a hole pixel farther than model side / DEEP from known pixels is "deep"
INPAINT_CONTEXT_SHARE = 8  # default context: an eighth of the side (decision 0012)
COARSE_REFINE = 0.3  # strength of the full-size fill over a coarse plan (from noise only)
COVER_STRIDE = 4  # px at most between the window positions the cover chooses from
THIN_DRAWS = 2  # draws of a photo over its step budget: one antithetic pair (decision 0012)
THIN_CONTEXT = 0  # px of default context for such a photo: cores are whole windows, fewer


def cover_windows(region: np.ndarray, size: tuple[int, int], context: int) -> list[Window]:
    """Few model-size windows whose cores cover every ``region`` pixel (greedy set cover).

    A window's core is the window less ``context`` px on each side, except on a side
    that touches the photo's edge. Positions are every tenth of a core (at most
    ``COVER_STRIDE`` px) plus flush
    with the far edges; the window whose core holds the most still-uncovered pixels is
    taken until none is left. Windows may overlap; each holds some of the region.
    """
    height, width = region.shape
    mh, mw = size
    stride = max(1, min(COVER_STRIDE, (min(size) - 2 * context) // 10))

    def positions(length: int, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts = np.array(sorted({*range(0, length - side + 1, stride), length - side}))
        lo = starts + np.where(starts > 0, context, 0)
        hi = starts + side - np.where(starts < length - side, context, 0)
        return starts, lo, hi

    ys, y0, y1 = positions(height, mh)
    xs, x0, x1 = positions(width, mw)
    todo = np.asarray(region, bool).copy()
    table = np.zeros((height + 1, width + 1), np.int64)
    table[1:, 1:] = todo.cumsum(0).cumsum(1)
    counts = table[np.ix_(y1, x1)] - table[np.ix_(y0, x1)] - table[np.ix_(y1, x0)]
    counts += table[np.ix_(y0, x0)]  # uncovered pixels in each candidate's core
    windows: list[Window] = []
    while counts.max() > 0:
        r, c = np.unravel_index(int(np.argmax(counts)), counts.shape)
        top, bottom, left, right = int(y0[r]), int(y1[r]), int(x0[c]), int(x1[c])
        windows.append(Window(int(ys[r]), int(xs[c]), (slice(top, bottom), slice(left, right))))
        # the candidates whose cores overlap this one lose the pixels it covers now
        local = np.zeros((bottom - top + 1, right - left + 1), np.int64)
        local[1:, 1:] = todo[top:bottom, left:right].cumsum(0).cumsum(1)
        rows = np.nonzero((y0 < bottom) & (y1 > top))[0]
        cols = np.nonzero((x0 < right) & (x1 > left))[0]
        ya, yb = np.clip(y0[rows], top, bottom) - top, np.clip(y1[rows], top, bottom) - top
        xa, xb = np.clip(x0[cols], left, right) - left, np.clip(x1[cols], left, right) - left
        lost = local[np.ix_(yb, xb)] - local[np.ix_(ya, xb)] - local[np.ix_(yb, xa)]
        counts[np.ix_(rows, cols)] -= lost + local[np.ix_(ya, xa)]
        todo[top:bottom, left:right] = False
    # a window picked early may have been made redundant by later ones: drop it
    depth = np.zeros(region.shape, np.int32)
    for window in windows:
        depth[window.core] += 1
    kept = []
    for window in reversed(windows):
        if (depth[window.core][region[window.core]] > 1).all():
            depth[window.core] -= 1
        else:
            kept.append(window)
    return kept[::-1]


def fill_budget(
    region: np.ndarray, size: tuple[int, int], options: InpaintOptions, context: int
) -> tuple[list[Window], int, int]:
    """The windows, draws and context of a fill: the options' own, unless the photo's
    windows x draws exceed ``options.step_images`` network images per model step (a
    large photo: 1024x768 with brush holes needs ~170 windows at 8 px of context). Then
    the draws fall to one antithetic pair (``THIN_DRAWS``) and a default context to
    ``THIN_CONTEXT`` (none: 118 windows there instead of 169), re-covered. On validation
    holes a pair scored within 0.05 dB of 4 paired draws and above 4 independent ones
    (the defaults before), and 0 or 4 px of context as well as 8 (decision 0012). A
    photo of few windows (256x256: 7-16) keeps the defaults."""
    windows = cover_windows(region, size, context)
    budget, draws = options.step_images, options.draws
    if budget is None or len(windows) * draws <= budget:
        return windows, draws, context
    draws = min(draws, THIN_DRAWS)
    if options.context is None and context > THIN_CONTEXT:
        context = THIN_CONTEXT
        windows = cover_windows(region, size, context)
    return windows, draws, context


def _paired_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise for ``n = shape[0]`` draws in antithetic pairs: the last
    ``n // 2`` draws get the first ``n // 2`` draws' noise negated (an odd middle draw has
    its own). The mean of a pair cancels what the fill does linearly with its noise, so
    2 paired draws average out about as much as 4 independent ones (decision 0012)."""
    draws = shape[0]
    half = _noise(rng, (draws - draws // 2, *shape[1:]))
    return np.concatenate([half, -half[: draws // 2]])


def _window_weight(window: Window, size: tuple[int, int], context: int) -> np.ndarray:
    """Blending weight over a window: 1 in its core, falling linearly towards the window's
    inner borders (where it sees least), so overlapping windows defer to the one that
    has the pixel well inside."""
    (ys, xs), (mh, mw) = window.core, size

    def ramp(side: int, lo: int, hi: int) -> np.ndarray:
        i = np.arange(side, dtype=np.float32)
        below = np.clip((i + 1) / (lo + 1), 0, 1) if lo > 0 else np.ones(side, np.float32)
        above = np.clip((side - i) / (side - hi + 1), 0, 1) if hi < side else 1.0
        return np.minimum(below, above) if context > 0 else np.ones(side, np.float32)

    ry = ramp(mh, ys.start - window.y, ys.stop - window.y)
    rx = ramp(mw, xs.start - window.x, xs.stop - window.x)
    return (ry[:, None] * rx[None, :]).astype(np.float32)


@dataclass
class _Canvas:
    """What a joint fill works on: a picture (CHW, model range), which of its pixels are
    known, and the windows that together cover its unknown pixels."""

    known: np.ndarray  # 3 x H x W, model range
    keep: np.ndarray  # 1 x H x W float32, 1 = known
    windows: list[Window]
    init: np.ndarray | None = None  # 3 x H x W start picture (None: pure noise)


def _joint_fill(
    model: EpsModel,
    canvas: _Canvas,
    options: SamplerOptions,
    draws: int,
    timesteps: np.ndarray,
    levels: list[int],
    rng: np.random.Generator,
    step: Callable[[Callable[[], np.ndarray]], None],
    calls: list[int],
    show: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """RePaint every window of ``canvas`` at once, ``draws`` times; returns the mean clean
    picture (3 x H x W, model range).

    The sampler state is one noisy picture per draw, the draws' noise in antithetic
    pairs (:func:`_paired_noise`). At each step every window (of every
    draw) is cut from it and all of them go to the model together, in calls of at most
    ``max_batch`` images; the predicted noise is blended back by the windows' weights
    and the step is taken on the whole picture, so overlapping windows agree as they
    denoise. ``step`` is told after every step (with a lazy preview built by ``show``
    from the mean x0); ``calls`` counts model calls.
    """
    schedule = model.schedule
    n = len(timesteps)
    height, width = model.size
    shape = (draws, *canvas.known.shape)
    weights = [_window_weight(w, model.size, _context_of(w, model.size)) for w in canvas.windows]
    total = np.zeros(canvas.known.shape[1:], np.float32)
    for window, weight in zip(canvas.windows, weights, strict=True):
        total[window.y : window.y + height, window.x : window.x + width] += weight
    inverse = np.where(total > 0, 1.0 / np.maximum(total, 1e-12), 0.0).astype(np.float32)
    keep, known = canvas.keep, canvas.known

    def t_of(level: int) -> int:
        return int(timesteps[n - level]) if level >= 1 else -1

    if canvas.init is None:
        x = _paired_noise(rng, shape)
    else:
        x = q_sample(canvas.init[None], schedule.abar(int(timesteps[0])), _paired_noise(rng, shape))
        x = x.astype(np.float32)
    for here, there in zip(levels, levels[1:], strict=False):
        t, t_next = t_of(here), t_of(there)
        if there > here:
            x = forward_jump(x, schedule.abar(t), schedule.abar(t_next), _paired_noise(rng, shape))
            continue
        crops = np.stack(
            [x[:, :, w.y : w.y + height, w.x : w.x + width] for w in canvas.windows], axis=1
        ).reshape(-1, 3, height, width)  # draw-major: all windows of draw 0, then draw 1...
        eps = np.empty_like(crops)
        for i in range(0, len(crops), options.max_batch):
            _cancel_of(step).check()
            eps[i : i + options.max_batch] = model(
                crops[i : i + options.max_batch], t, _cancel_of(step)
            )
            calls[0] += 1
        eps = eps.reshape(draws, len(canvas.windows), 3, height, width)
        blended = np.zeros_like(x)
        for k, (window, weight) in enumerate(zip(canvas.windows, weights, strict=True)):
            blended[:, :, window.y : window.y + height, window.x : window.x + width] += (
                weight * eps[:, k]
            )
        blended *= inverse
        abar_t, abar_prev = schedule.abar(t), schedule.abar(t_next)
        last = t_next < 0
        if options.sampler == "ddpm":
            noise = None if last else _paired_noise(rng, shape)
            x, x0 = ddpm_step(
                x, blended, abar_t, abar_prev, noise, schedule.variance_type, schedule.clip_sample
            )
        else:
            noise = _paired_noise(rng, shape) if options.eta > 0 and not last else None
            x, x0 = ddim_step(
                x, blended, abar_t, abar_prev, options.eta, noise, schedule.clip_sample
            )
        x = repaint_merge(x, known, keep, abar_prev, None if last else _paired_noise(rng, shape))
        x = x.astype(np.float32)
        step(lambda x0=x0: show(keep * known + (1.0 - keep) * x0.mean(axis=0)))
    return x.mean(axis=0)


def _context_of(window: Window, size: tuple[int, int]) -> int:
    """The context the window was planned with: its core's inset from an inner side."""
    (ys, xs), (mh, mw) = window.core, size
    insets = [ys.start - window.y, window.y + mh - ys.stop, xs.start - window.x]
    insets.append(window.x + mw - xs.stop)
    return max(insets)


class _StepTicker:
    """Progress per step of the whole fill (planning steps included), one part; previews
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


def _cancel_of(step: Callable) -> CancelToken:
    return getattr(step, "cancel", NEVER)


def deep_holes(region: np.ndarray, size: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Boxes around the holes whose middle lies deeper than ``min(size) // DEEP`` px from
    any known pixel (windows there would see only hole and invent unrelated texture):
    each such connected hole's bounding box with as much context again around it.
    Overlapping boxes are merged. Thin holes (brush strokes) give none."""
    depth = cv2.distanceTransform(
        np.pad(region, 1, constant_values=True).astype(np.uint8), cv2.DIST_L2, 5
    )[1:-1, 1:-1]
    deep = depth > min(size) // DEEP
    if not deep.any():
        return []
    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    height, width = region.shape
    boxes = []
    for label in np.unique(labels[deep]):
        ys, xs = np.nonzero(labels == label)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        my, mx = (y1 - y0) // 2 + 4, (x1 - x0) // 2 + 4
        boxes.append([max(0, y0 - my), min(height, y1 + my), max(0, x0 - mx), min(width, x1 + mx)])
    merged = True
    while merged:  # boxes that overlap become one
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    boxes[i] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return [(slice(a, b), slice(c, d)) for a, b, c, d in boxes]


def classical_fill(pixels: np.ndarray, region: np.ndarray) -> np.ndarray:
    """OpenCV Telea (radius 3) of ``region`` (HxWx3 in [0, 1]; on 8 bits, as OpenCV
    fills colour): the start picture of a partial-strength fill."""
    rgb = np.ascontiguousarray((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    holes = np.ascontiguousarray(region.astype(np.uint8))
    filled = cv2.inpaint(rgb, holes, 3, cv2.INPAINT_TELEA).astype(np.float32) / 255.0
    return np.where(region[..., None], filled, pixels).astype(np.float32)


def _fill_plan(
    model: EpsModel, options: InpaintOptions, strength: float
) -> tuple[np.ndarray, list[int]]:
    """Timesteps and levels of the fill: SDEdit's strided steps from level ``strength``
    of the chain (1: pure noise), with RePaint's resampling."""
    _, count, timesteps, _ = _sdedit_plan(model, strength, options.steps)
    return timesteps, repaint_levels(count, options.jump_length, options.jump_n_sample)


def _coarse_plans(
    model: EpsModel,
    colour: np.ndarray,
    region: np.ndarray,
    boxes: list[tuple[slice, slice]],
    options: InpaintOptions,
    rng: np.random.Generator,
    step: Callable[[Callable[[], np.ndarray]], None],
    calls: list[int],
    show: Callable[[list[np.ndarray]], np.ndarray],
) -> list[np.ndarray]:
    """RePaint each deep hole's surroundings shrunk into one window, all boxes in one
    batch (side by side on one canvas, one window each), from noise; returns each box's
    fill enlarged back to the box's size (the full-size fill then refines it)."""
    height, width = model.size
    smalls, holes = [], []
    for box in boxes:
        smalls.append(arrays.resize(colour[box], width, height))
        holes.append(arrays.resize_plane(region[box].astype(np.float32), width, height) > 0.01)
    known = model.to_model(np.concatenate(smalls, axis=1)).transpose(2, 0, 1)
    hole = np.concatenate(holes, axis=1)
    windows = [
        Window(0, k * width, (slice(0, height), slice(k * width, (k + 1) * width)))
        for k in range(len(boxes))
    ]
    canvas = _Canvas(known, (~hole)[None].astype(np.float32), windows)
    timesteps, levels = _fill_plan(model, options, 1.0)

    def enlarge(values: np.ndarray) -> list[np.ndarray]:
        pixels = model.to_pixels(values.transpose(1, 2, 0))
        return [
            arrays.resize(
                pixels[:, k * width : (k + 1) * width],
                box[1].stop - box[1].start,
                box[0].stop - box[0].start,
            )
            for k, box in enumerate(boxes)
        ]

    filled = _joint_fill(
        model,
        canvas,
        options,
        options.draws,
        timesteps,
        levels,
        rng,
        step,
        calls,
        lambda values: show(enlarge(values)),
    )
    return enlarge(filled)


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    options: InpaintOptions,
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Fill ``mask`` (HxW, > 0.5 = fill) of ``image`` (HxWxC in [0, 1]) with RePaint.

    The holes are covered by as few model-size windows as possible
    (:func:`cover_windows`), and all windows, each ``options.draws`` times, are denoised
    together: one model call per step (more only past ``max_batch`` images), the
    windows blended where they overlap (:func:`_joint_fill`). With ``strength`` below 1
    the fill starts from OpenCV's Telea fill noised to that level instead of from pure
    noise, so ``round(steps * strength)`` steps bring it back (SDEdit inside RePaint).
    The draws are averaged: one draw is a plausible texture, the mean of several
    estimates what was really there (decision 0005); their noise comes in antithetic
    pairs, and a photo of more windows x draws than ``step_images`` gets one pair and
    less context (:func:`fill_budget`: a 1024x768 photo). A hole too deep for windows
    (:func:`deep_holes`) gets fine texture borrowed from around it after the fill
    (:mod:`engine.pipelines.texture`). From noise (strength 1) such a hole is first
    planned in one shrunk window (all such holes in one batch) and the fill refines
    the plan at ``COARSE_REFINE``; a partial fill needs no plan: Telea's start already
    spans the hole from all its edges, and on validation holes it beat the plan
    (decision 0012).

    Returns ``images["image"]``, equal to ``image`` outside the mask bit for bit.
    Progress counts the steps of the whole fill (planning included); previews show the
    whole photo with the current estimate of the fill in place.
    """
    emit = emit or silent()
    model = load_model(registry, options.model, options.device)
    _check_common(options, model)
    if options.jump_length < 1 or options.jump_n_sample < 1:
        raise DiffusionError("jump_length and jump_n_sample must be at least 1")
    if not 1 <= options.draws <= options.max_batch:
        raise DiffusionError(
            f"draws must be between 1 and max_batch ({options.max_batch}): the draws of a "
            f"window share one model call; got {options.draws}"
        )
    if not 0.0 < options.strength <= 1.0:
        raise DiffusionError(f"strength must be above 0 and at most 1, not {options.strength}")
    if options.step_images is not None and options.step_images < 1:
        raise DiffusionError(f"step_images must be at least 1 or None, not {options.step_images}")
    pixels = _check_image(image, model)
    region = _check_mask(mask, pixels.shape)
    if region.all():
        raise DiffusionError(
            "the mask covers the whole image, so nothing is left to fill from; use generate instead"
        )
    context = _context(options.context, model, INPAINT_CONTEXT_SHARE)
    started = time.monotonic()
    rng, seed = _rng(options)
    colour = arrays.rgb(pixels)
    boxes = deep_holes(region, model.size)
    # from noise, a deep hole is planned first and the fill refines the plan; a partial
    # fill starts from Telea, which already plans deep holes from all their edges
    planned = bool(boxes) and options.strength >= 1.0
    strength = COARSE_REFINE if planned else options.strength
    timesteps, levels = _fill_plan(model, options, strength)
    partial = strength < 1.0
    plan_calls = _model_calls(_fill_plan(model, options, 1.0)[1]) if planned else 0
    steps = _model_calls(levels) + plan_calls
    ticker = _StepTicker(emit, cancel, steps)
    ticker.stage = "planning the fill" if planned else "inpainting"
    calls = [0]
    start = classical_fill(colour, region) if partial else colour

    def show_plans(plans: list[np.ndarray]) -> np.ndarray:
        shown = start.copy()
        for box, plan in zip(boxes, plans, strict=True):
            shown[box] = np.where(region[box][..., None], plan, shown[box])
        return shown

    if planned:
        plans = _coarse_plans(model, colour, region, boxes, options, rng, ticker, calls, show_plans)
        start = show_plans(plans)
        ticker.stage = "inpainting"
    windows, draws, context = fill_budget(region, model.size, options, context)
    canvas = _Canvas(
        known=model.to_model(colour).transpose(2, 0, 1),
        keep=(~region)[None].astype(np.float32),
        windows=windows,
        init=model.to_model(start).transpose(2, 0, 1) if partial else None,
    )
    filled = _joint_fill(
        model,
        canvas,
        options,
        draws,
        timesteps,
        levels,
        rng,
        ticker,
        calls,
        lambda values: model.to_pixels(values.transpose(1, 2, 0)),
    )
    changed = model.to_pixels(filled.transpose(1, 2, 0))
    for box in boxes:  # the model draws colour, not gravel: fine detail from around it
        changed[box] = borrow_texture(colour[box], changed[box], region[box], rng)
    info = _info(
        model,
        seed,
        ticker,
        started,
        steps=options.steps,
        windows=len(windows) + (len(boxes) if planned else 0),
        jump_length=options.jump_length,
        jump_n_sample=options.jump_n_sample,
        draws=draws,
        context=context,
        strength=options.strength,
    )
    info["model_calls"] = calls[0]
    info["model_steps"] = ticker.done
    return Result(images={"image": _compose(pixels, changed, region)}, info=info)


def _sdedit_plan(
    model: EpsModel, strength: float, steps: int
) -> tuple[int, int, list[int], list[int]]:
    """SDEdit from ``strength`` up the chain: (start timestep, model steps, timesteps,
    levels). ``round(steps * strength)`` steps, at least one, at most start + 1."""
    start = round(strength * (model.schedule.num_train_timesteps - 1))
    count = min(start + 1, max(1, round(steps * strength)))
    return start, count, strided_timesteps(start, count), list(range(count, -1, -1))


# --- edit -----------------------------------------------------------------------


def edit(
    image: np.ndarray,
    options: EditOptions,
    mask: np.ndarray | None = None,
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """SDEdit ``image`` (HxWxC in [0, 1]): noise it to ``options.strength``, denoise.

    With ``mask`` (HxW, > 0.5 = change) the rest of the photo is kept bit for bit and
    guides the changed part; without it the whole image is re-imagined.
    """
    emit = emit or silent()
    model = load_model(registry, options.model, options.device)
    _check_common(options, model)
    if not 0.0 < options.strength <= 1.0:
        raise DiffusionError(f"strength must be above 0 and at most 1, not {options.strength}")
    pixels = _check_image(image, model)
    region = np.ones(pixels.shape[:2], bool) if mask is None else _check_mask(mask, pixels.shape)
    context = _context(options.context, model)
    started = time.monotonic()
    rng, seed = _rng(options)
    start, steps, timesteps, levels = _sdedit_plan(model, options.strength, options.steps)
    changed, ticker, windows = _run_windows(
        model,
        arrays.rgb(pixels),
        region,
        options,
        context,
        timesteps,
        levels,
        rng,
        emit,
        cancel,
        from_noise=False,
        stage="editing",
    )
    info = _info(
        model,
        seed,
        ticker,
        started,
        steps=steps,
        strength=options.strength,
        windows=windows,
        start_timestep=start,
    )
    return Result(images={"image": _compose(pixels, changed, region)}, info=info)

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
    """RePaint: ancestral steps; ``jump_n_sample - 1`` resampling jumps of
    ``jump_length`` strided steps every ``jump_length`` steps (1 = no resampling).
    The default costs 45 model calls per window."""

    steps: int = 25
    sampler: Sampler = "ddpm"
    jump_length: int = 5
    jump_n_sample: int = 2
    context: int | None = None  # px around each core; None = a fifth of the model size
    draws: int = 4  # fills sampled per window and averaged; see :func:`inpaint`


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


def _context(context: int | None, model: EpsModel) -> int:
    side = min(model.size)
    value = side // 5 if context is None else context
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

COARSE_REFINE = 0.3  # SDEdit strength of the full-size pass over a coarse fill


def _sdedit_plan(
    model: EpsModel, strength: float, steps: int
) -> tuple[int, int, list[int], list[int]]:
    """SDEdit from ``strength`` up the chain: (start timestep, model steps, timesteps,
    levels). ``round(steps * strength)`` steps, at least one, at most start + 1."""
    start = round(strength * (model.schedule.num_train_timesteps - 1))
    count = min(start + 1, max(1, round(steps * strength)))
    return start, count, strided_timesteps(start, count), list(range(count, -1, -1))


def _hole_box(region: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice] | None:
    """The hole's bounding box with as much context again around it, when part of the
    hole lies deeper than a quarter window from any known pixel (windows there would
    see only hole and invent unrelated texture); None when windows suffice."""
    inner = region
    for _ in range(min(size) // 4):
        inner = ~arrays.dilate(~inner, 1)  # one erosion
        if not inner.any():
            return None
    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    my, mx = (y1 - y0) // 2 + 4, (x1 - x0) // 2 + 4
    height, width = region.shape
    return slice(max(0, y0 - my), min(height, y1 + my)), slice(max(0, x0 - mx), min(width, x1 + mx))


def _coarse_fill(
    model: EpsModel,
    pixels: np.ndarray,
    region: np.ndarray,
    box: tuple[slice, slice],
    options: InpaintOptions,
    timesteps: np.ndarray,
    levels: list[int],
    rng: np.random.Generator,
    emit: Emitter,
    cancel: CancelToken,
) -> np.ndarray:
    """RePaint the hole's surroundings shrunk into one window, so the whole hole is
    planned at once from all of its context; returns ``pixels`` with that plan
    enlarged into the hole (the full-size windows then only refine it)."""
    height, width = model.size
    crop, hole = pixels[box], region[box].astype(np.float32)
    small = arrays.resize(crop, width, height)
    small_hole = arrays.resize_plane(hole, width, height) > 0.01
    filled, _, _ = _run_windows(
        model,
        small,
        small_hole,
        options,
        _context(options.context, model),
        timesteps,
        levels,
        rng,
        emit,
        cancel,
        from_noise=True,
        stage="planning the fill",
        draws=options.draws,
    )
    plan = arrays.resize(filled, crop.shape[1], crop.shape[0])
    out = pixels.copy()
    out[box] = np.where(region[box][..., None], plan, crop)
    return out


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    options: InpaintOptions,
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Fill ``mask`` (HxW, > 0.5 = fill) of ``image`` (HxWxC in [0, 1]) with RePaint.

    Each window is filled ``options.draws`` times (in one batch) and the fills are
    averaged: one draw is a plausible texture, the mean of several estimates what was
    really there: on held-out photos 4 draws fill brush holes about 1 dB closer to the
    truth than one (the model card has the figures). ``draws=1`` keeps the grain.
    A hole too deep for windows (:func:`_hole_box`) is planned in one shrunk window,
    refined at full size, then given fine texture borrowed from around it
    (:mod:`engine.pipelines.texture`): the model draws its colours, not its gravel.

    Returns ``images["image"]``, equal to ``image`` outside the mask bit for bit.
    Previews show the whole photo with the current x0 guesses in the windows at work.
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
    pixels = _check_image(image, model)
    region = _check_mask(mask, pixels.shape)
    if region.all():
        raise DiffusionError(
            "the mask covers the whole image, so nothing is left to fill from; use generate instead"
        )
    context = _context(options.context, model)
    started = time.monotonic()
    rng, seed = _rng(options)
    timesteps = strided_timesteps(model.schedule.num_train_timesteps - 1, options.steps)
    levels = repaint_levels(options.steps, options.jump_length, options.jump_n_sample)
    box = _hole_box(region, model.size)
    colour = arrays.rgb(pixels)
    if box is None:
        changed, ticker, windows = _run_windows(
            model,
            colour,
            region,
            options,
            context,
            timesteps,
            levels,
            rng,
            emit,
            cancel,
            from_noise=True,
            stage="inpainting",
            draws=options.draws,
        )
    else:  # a big hole: plan it coarsely in one window, then refine at full size
        planned = _coarse_fill(
            model, colour, region, box, options, timesteps, levels, rng, emit, cancel
        )
        _, _, refine_steps, refine_levels = _sdedit_plan(model, COARSE_REFINE, options.steps)
        changed, ticker, windows = _run_windows(
            model,
            planned,
            region,
            options,
            context,
            refine_steps,
            refine_levels,
            rng,
            emit,
            cancel,
            from_noise=False,
            stage="inpainting",
            draws=options.draws,
        )
        windows += 1
        # the model draws colour, not gravel: fine detail comes from around the hole
        changed[box] = borrow_texture(colour[box], changed[box], region[box], rng)
    info = _info(
        model,
        seed,
        ticker,
        started,
        steps=options.steps,
        windows=windows,
        jump_length=options.jump_length,
        jump_n_sample=options.jump_n_sample,
        draws=options.draws,
    )
    return Result(images={"image": _compose(pixels, changed, region)}, info=info)


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

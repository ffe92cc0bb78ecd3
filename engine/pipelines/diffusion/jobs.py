"""The three diffusion jobs: ``generate``, ``inpaint`` (RePaint) and ``edit`` (SDEdit).

Each job checks its inputs, fixes everything about the run in one frozen plan
(:class:`FillJob` for a joint fill, :class:`WindowJob` for windowed SDEdit), then hands
it to the loop (:mod:`engine.pipelines.diffusion.sampler`) window batch by window batch
or all windows at once. Pixels outside the region to change come back bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine import arrays
from engine.cancel import NEVER, CancelToken
from engine.jobs import Emitter, Result, silent
from engine.models import Registry
from engine.ops.prepass import telea_fill
from engine.ops.schedule import forward_jump, q_sample, repaint_merge
from engine.ops.texture import borrow_texture
from engine.pipelines.diffusion.model import EpsModel, load_model
from engine.pipelines.diffusion.options import (
    MAX_COUNT,
    DiffusionError,
    EditOptions,
    GenerateOptions,
    InpaintOptions,
    SamplerOptions,
    check_image,
    check_mask,
    seeded_rng,
)
from engine.pipelines.diffusion.sampler import (
    Chain,
    StepTicker,
    Ticker,
    check_sampling,
    denoise,
    noise,
    paired_noise,
    take_step,
)
from engine.pipelines.diffusion.windows import (
    Window,
    batches,
    context_of,
    deep_holes,
    fill_budget,
    paste,
    plan_windows,
    window_context,
    window_weight,
)

INPAINT_CONTEXT_SHARE = 8  # default context: an eighth of the side (decision 0012)
COARSE_REFINE = 0.3  # strength of the full-size fill over a coarse plan (from noise only)


def _info(model: EpsModel, seed: int, ticker, started: float, **extra: object) -> dict:
    return {
        "device": model.describe(),
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


def _compose(original: np.ndarray, changed_rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``original`` with only ``region`` replaced (as luma for a grayscale original)."""
    changed = arrays.luma(changed_rgb)[..., None] if original.shape[2] == 1 else changed_rgb
    out = original.copy()
    out[region] = changed[region]
    return out


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
    check_sampling(options, model)
    if not 1 <= options.count <= MAX_COUNT:
        raise DiffusionError(f"count must be between 1 and {MAX_COUNT}, not {options.count}")
    started = time.monotonic()
    rng, seed = seeded_rng(options)
    chain = Chain.plain(model.schedule.num_train_timesteps - 1, options.steps)
    chunks = [
        range(i, min(i + options.max_batch, options.count))
        for i in range(0, options.count, options.max_batch)
    ]
    ticker = Ticker(emit, cancel, chain.model_calls, len(chunks), "sampling")
    height, width = model.size
    done = np.zeros((options.count, height, width, 3), np.float32)

    def preview(chunk: range, x0: np.ndarray) -> np.ndarray:
        shown = done.copy()
        shown[chunk.start : chunk.stop] = model.to_pixels(x0).transpose(0, 2, 3, 1)
        return shown[0] if options.count == 1 else _grid(shown)

    for chunk in chunks:
        x = noise(rng, (len(chunk), 3, height, width))
        x = denoise(model, x, chain, options, rng, ticker, lambda x0, c=chunk: preview(c, x0))
        done[chunk.start : chunk.stop] = model.to_pixels(x).transpose(0, 2, 3, 1)
    if options.count == 1:
        images = {"image": done[0]}
    else:
        images = {f"image_{i + 1}": done[i] for i in range(options.count)}
    info = _info(model, seed, ticker, started, steps=options.steps, sampler=options.sampler)
    return Result(images=images, info=info)


# --- windowed SDEdit --------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WindowJob:
    """Everything a windowed SDEdit fixes before its first step."""

    model: EpsModel
    options: SamplerOptions
    chain: Chain
    context: int  # px around each window's core
    stage: str  # what progress calls the work


def run_windows(
    job: WindowJob,
    pixels: np.ndarray,
    region: np.ndarray,
    rng: np.random.Generator,
    emit: Emitter,
    cancel: CancelToken,
) -> tuple[np.ndarray, Ticker, int]:
    """Change ``region`` of ``pixels`` (HxWx3 in [0, 1]) window by window, in the waves of
    :func:`plan_windows`: each window is noised to the chain's first timestep and
    denoised, the pixels outside its core and the cores done before kept as known.
    Returns the changed image (pixels outside ``region`` untouched), the ticker and the
    number of windows."""
    model = job.model
    height, width = model.size
    waves = plan_windows(region, model.size, job.context)
    parts = [batch for wave in waves for batch in batches(wave, job.options.max_batch)]
    ticker = Ticker(emit, cancel, job.chain.model_calls, len(parts), job.stage)
    current = model.to_model(pixels).transpose(2, 0, 1)  # CHW, model range
    todo = region.copy()  # region pixels no window has produced yet
    abar_start = model.schedule.abar(job.chain.first)
    for batch in parts:
        crops = np.stack([current[:, w.y : w.y + height, w.x : w.x + width] for w in batch])
        keep = np.stack([~todo[w.y : w.y + height, w.x : w.x + width] for w in batch])
        keep = keep[:, None].astype(np.float32)
        x = q_sample(crops, abar_start, noise(rng, crops.shape))

        def preview(x0: np.ndarray, batch: list[Window] = batch) -> np.ndarray:
            shown = current.copy()
            for window, guess in zip(batch, x0, strict=True):
                paste(shown, guess, window, todo)
            return model.to_pixels(shown.transpose(1, 2, 0))

        x = denoise(model, x, job.chain, job.options, rng, ticker, preview, crops, keep)
        for window, result in zip(batch, x, strict=True):
            paste(current, result, window, todo)
            todo[window.core] = False
    return model.to_pixels(current.transpose(1, 2, 0)), ticker, sum(map(len, waves))


# --- joint fills (inpainting) -----------------------------------------------------


@dataclass(frozen=True, eq=False)
class FillJob:
    """Everything a joint fill fixes before its first step."""

    model: EpsModel
    options: SamplerOptions
    chain: Chain
    draws: int  # fills sampled side by side (antithetic pairs) and averaged


@dataclass
class _Canvas:
    """What a joint fill works on: a picture (CHW, model range), which of its pixels are
    known, and the windows that together cover its unknown pixels."""

    known: np.ndarray  # 3 x H x W, model range
    keep: np.ndarray  # 1 x H x W float32, 1 = known
    windows: list[Window]
    init: np.ndarray | None = None  # 3 x H x W start picture (None: pure noise)


def _cancel_of(step: Callable) -> CancelToken:
    return getattr(step, "cancel", NEVER)


def joint_fill(
    job: FillJob,
    canvas: _Canvas,
    rng: np.random.Generator,
    step: Callable[[Callable[[], np.ndarray]], None],
    calls: list[int],
    show: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """RePaint every window of ``canvas`` at once, ``job.draws`` times; returns the mean
    clean picture (3 x H x W, model range).

    The sampler state is one noisy picture per draw, the draws' noise in antithetic
    pairs (:func:`paired_noise`). At each step every window (of every draw) is cut from
    it and all of them go to the model together, in calls of at most ``max_batch``
    images; the predicted noise is blended back by the windows' weights and the step is
    taken on the whole picture, so overlapping windows agree as they denoise. ``step``
    is told after every step (with a lazy preview built by ``show`` from the mean x0);
    ``calls`` counts model calls.
    """
    model, options, chain = job.model, job.options, job.chain
    schedule = model.schedule
    height, width = model.size
    shape = (job.draws, *canvas.known.shape)
    weights = [window_weight(w, model.size, context_of(w, model.size)) for w in canvas.windows]
    total = np.zeros(canvas.known.shape[1:], np.float32)
    for window, weight in zip(canvas.windows, weights, strict=True):
        total[window.y : window.y + height, window.x : window.x + width] += weight
    inverse = np.where(total > 0, 1.0 / np.maximum(total, 1e-12), 0.0).astype(np.float32)
    keep, known = canvas.keep, canvas.known

    def draw(size: tuple[int, ...]) -> np.ndarray:
        return paired_noise(rng, size)

    if canvas.init is None:
        x = draw(shape)
    else:
        x = q_sample(canvas.init[None], schedule.abar(chain.first), draw(shape))
        x = x.astype(np.float32)
    for t, t_next, down in chain.moves():
        if not down:
            x = forward_jump(x, schedule.abar(t), schedule.abar(t_next), draw(shape))
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
        eps = eps.reshape(job.draws, len(canvas.windows), 3, height, width)
        blended = np.zeros_like(x)
        for k, (window, weight) in enumerate(zip(canvas.windows, weights, strict=True)):
            blended[:, :, window.y : window.y + height, window.x : window.x + width] += (
                weight * eps[:, k]
            )
        blended *= inverse
        x, x0 = take_step(x, blended, t, t_next, schedule, options, draw)
        last = t_next < 0
        x = repaint_merge(x, known, keep, schedule.abar(t_next), None if last else draw(shape))
        x = x.astype(np.float32)
        step(lambda x0=x0: show(keep * known + (1.0 - keep) * x0.mean(axis=0)))
    return x.mean(axis=0)


def classical_fill(pixels: np.ndarray, region: np.ndarray) -> np.ndarray:
    """OpenCV Telea of ``region``: the start picture of a partial-strength fill."""
    return telea_fill(pixels, region)


def sdedit_start(model: EpsModel, strength: float, steps: int) -> tuple[int, int]:
    """SDEdit from ``strength`` up the chain: (start timestep, model steps).
    ``round(steps * strength)`` steps, at least one, at most start + 1."""
    start = round(strength * (model.schedule.num_train_timesteps - 1))
    return start, min(start + 1, max(1, round(steps * strength)))


def fill_chain(model: EpsModel, options: InpaintOptions, strength: float) -> Chain:
    """The fill's chain: SDEdit's strided steps from level ``strength`` of the chain
    (1: pure noise), with RePaint's resampling."""
    start, count = sdedit_start(model, strength, options.steps)
    return Chain.repaint(start, count, options.jump_length, options.jump_n_sample)


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
    job = FillJob(model, options, fill_chain(model, options, 1.0), options.draws)

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

    filled = joint_fill(job, canvas, rng, step, calls, lambda values: show(enlarge(values)))
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
    windows blended where they overlap (:func:`joint_fill`). With ``strength`` below 1
    the fill starts from OpenCV's Telea fill noised to that level instead of from pure
    noise, so ``round(steps * strength)`` steps bring it back (SDEdit inside RePaint).
    The draws are averaged: one draw is a plausible texture, the mean of several
    estimates what was really there (decision 0005); their noise comes in antithetic
    pairs, and a photo of more windows x draws than ``step_images`` gets one pair and
    less context (:func:`fill_budget`: a 1024x768 photo). A hole too deep for windows
    (:func:`deep_holes`) gets fine texture borrowed from around it after the fill
    (:mod:`engine.ops.texture`). From noise (strength 1) such a hole is first
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
    check_sampling(options, model)
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
    pixels = check_image(image, model)
    region = check_mask(mask, pixels.shape)
    if region.all():
        raise DiffusionError(
            "the mask covers the whole image, so nothing is left to fill from; use generate instead"
        )
    context = window_context(options.context, model.size, INPAINT_CONTEXT_SHARE)
    started = time.monotonic()
    rng, seed = seeded_rng(options)
    colour = arrays.rgb(pixels)
    boxes = deep_holes(region, model.size)
    # from noise, a deep hole is planned first and the fill refines the plan; a partial
    # fill starts from Telea, which already plans deep holes from all their edges
    planned = bool(boxes) and options.strength >= 1.0
    strength = COARSE_REFINE if planned else options.strength
    chain = fill_chain(model, options, strength)
    partial = strength < 1.0
    plan_calls = fill_chain(model, options, 1.0).model_calls if planned else 0
    steps = chain.model_calls + plan_calls
    ticker = StepTicker(emit, cancel, steps)
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
    job = FillJob(model, options, chain, draws)
    filled = joint_fill(
        job, canvas, rng, ticker, calls, lambda values: model.to_pixels(values.transpose(1, 2, 0))
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
    check_sampling(options, model)
    if not 0.0 < options.strength <= 1.0:
        raise DiffusionError(f"strength must be above 0 and at most 1, not {options.strength}")
    pixels = check_image(image, model)
    region = np.ones(pixels.shape[:2], bool) if mask is None else check_mask(mask, pixels.shape)
    context = window_context(options.context, model.size)
    started = time.monotonic()
    rng, seed = seeded_rng(options)
    start, steps = sdedit_start(model, options.strength, options.steps)
    job = WindowJob(model, options, Chain.plain(start, steps), context, "editing")
    changed, ticker, windows = run_windows(job, arrays.rgb(pixels), region, rng, emit, cancel)
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

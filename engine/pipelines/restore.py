"""Old-photo restoration: scratch detection -> global restoration -> faces -> result.

Bringing Old Photos Back to Life as a product. Each stage can run alone (the app
shows the detected mask for editing before restoring), reports progress and a
preview, and stops between tiles when cancelled.

- Detection runs at a working resolution that keeps scratches a few pixels wide
  (BOPBTL shrinks to short side 256 and loses thin scratches on large scans), tiled,
  and the *probability* is upsampled to full resolution before thresholding, so mask
  edges follow the scratch rather than a blocky low-resolution grid.
- Restoration runs at full resolution, tiled within a memory budget when the pack
  allows tiling (ours has no per-image normalisation, so tiles join exactly);
  packs that normalise per image (converted BOPBTL) run whole.
- Faces found by the MTCNN packs are aligned to a 256 crop, enhanced (a
  face-enhance pack if installed, else a second restoration pass at the face's own
  canonical scale) and pasted back with colour matching and a feathered edge.
- Grayscale scans come back grayscale unless ``colour`` is asked for.
- A restore pack that declares a ``prepass`` input gets the classical fill + denoise
  of each tile (engine/pipelines/prepass.py) beside the photo and the mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine import arrays
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError, PackError
from engine.jobs import Emitter, Progress, Result, silent
from engine.limits import MEMORY_MB, SMOOTHING, THRESHOLD, TILE
from engine.models import ModelPack, Registry, TensorSpec
from engine.pipelines.prepass import prepass_batch
from engine.runtime import Device, Session, open_pack
from engine.tiling import DEFAULT_BUDGET_MB, run_tiled, smallest_tile, tile_for_budget

MIN_SIDE = 16
FACE_CROP = 256
# The face pass keeps this share of the user's smoothing: an aligned face is enlarged to
# FACE_CROP, where the pre-pass's non-local means smooths more per face pixel (the
# "plastic" look). Best of 0, 0.5, 1 on validation faces (training/tune_face_pass.py).
FACE_SMOOTHING = 0.5
# A face is refined when MTCNN scores it FACE_SCORE or more and its mirror image still
# scores MIRROR_SCORE (faces.confirm_faces); chosen by training/tune_face_detection.py on
# training and validation photos: no textures taken for faces, every real face kept.
FACE_SCORE = 0.9
MIRROR_SCORE = 0.8


@dataclass(frozen=True)
class RestoreOptions:
    """What the user chose. ``mask`` (HxW, 1 = damaged) replaces detection when given."""

    scratches: str = "auto"  # "auto" | "off"; ignored when ``mask`` is given
    mask: np.ndarray | None = field(default=None, repr=False)
    threshold: float | None = None  # default: the detector's manifest
    faces: bool = True
    colour: bool = False
    device: Device = "auto"
    detector: str | None = None
    restorer: str | None = None
    face_model: str | None = None
    tile: int | None = None  # default: from memory_mb and the pack's bytes_per_pixel
    memory_mb: int = DEFAULT_BUDGET_MB
    min_face: int = 48  # smaller faces are left to the global pass
    working_side: int | None = None  # detection's long side; default: the manifest's
    strength: float | None = None  # 0..1 outside the damage; default: the manifest's
    smoothing: float = 1.0  # 0..1 of the pre-pass's denoising kept (0: the photo's own grain)


# --- helpers --------------------------------------------------------------------


def _check_options(options: RestoreOptions) -> None:
    """The same ranges the CLI and the app enforce, for callers that reach us directly."""
    THRESHOLD.check(options.threshold)
    SMOOTHING.check(options.smoothing)
    MEMORY_MB.check(options.memory_mb)
    TILE.check(options.tile)


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image must be HxWx1 or HxWx3, not {image.shape}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise HeirloomError(
            f"the photo is {image.shape[1]}x{image.shape[0]} pixels; Heirloom needs at "
            f"least {MIN_SIDE} pixels on each side"
        )


def _spec(pack: ModelPack, *names: str) -> TensorSpec | None:
    return next((s for s in pack.manifest.inputs if s.name in names), None)


def _image_input(pack: ModelPack) -> TensorSpec:
    """The photo input: named image/photo/input, else the first one."""
    return _spec(pack, "image", "photo", "input") or pack.manifest.inputs[0]


def _tile_for(pack: ModelPack, options: RestoreOptions) -> int:
    if not pack.manifest.tiling.allowed:
        return 1 << 30  # one tile: the graph needs the whole image
    if options.tile:
        TILE.check(options.tile)
        smallest = smallest_tile(pack.manifest.size_rule, pack.manifest.tiling.overlap)
        if options.tile < smallest:
            raise HeirloomError(
                f"tile size {options.tile} is too small for the model pack '{pack.name}'; "
                f"use at least {smallest}"
            )
        return options.tile
    return tile_for_budget(
        options.memory_mb, pack.manifest.tiling.bytes_per_pixel, pack.manifest.size_rule
    )


def _working_size(
    pack: ModelPack, height: int, width: int, override: int | None
) -> tuple[int, int]:
    opts = pack.manifest.options
    if override:
        scale = min(1.0, override / max(height, width))
    elif "working_long_side" in opts:
        scale = min(1.0, float(opts["working_long_side"]) / max(height, width))
    elif "detect_short_side" in opts:
        scale = float(opts["detect_short_side"]) / min(height, width)
    else:
        scale = 1.0
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


# --- stage 1: scratches -----------------------------------------------------------


def detect_scratches(
    image: np.ndarray,
    options: RestoreOptions = RestoreOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Damage probability and mask at full resolution.

    Returns ``images={"prob": HxW float32, "mask": HxW bool}`` and info with the
    threshold, the working size and the device that ran.
    """
    _check_image(image)
    _check_options(options)
    emit = emit or silent()
    registry = registry or Registry()
    pack = registry.for_task("scratch-detect", options.detector)
    tile = _tile_for(pack, options)  # a tile too small for the pack fails before any work
    session = open_pack(pack, options.device)
    spec = _image_input(pack)
    height, width = image.shape[:2]
    wh, ww = _working_size(pack, height, width, options.working_side)
    emit.progress(0.0, "Finding damage", f"at {ww}x{wh} with {pack.name}")
    gray = arrays.resize_plane(arrays.luma(image), ww, wh)
    model_in = to_channels(gray[..., None], spec.channels or 1)
    out_name = pack.manifest.outputs[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run({spec.name: arrays.to_model_range(batch, spec)}, cancel, [out_name])[0]

    prob_small = run_tiled(
        run,
        model_in,
        pack.manifest.size_rule,
        tile=tile,
        overlap=pack.manifest.tiling.overlap,
        cancel=cancel,
        progress=lambda d, t: emit.progress(0.9 * d / t, "Finding damage", f"tile {d}/{t}"),
    )[..., 0]
    prob_small = arrays.from_model_range(prob_small, pack.manifest.outputs[0])
    prob = arrays.resize_plane(prob_small, width, height)
    threshold = options.threshold
    if threshold is None:
        threshold = float(pack.manifest.options.get("threshold", 0.5))
    mask = prob >= threshold
    emit.preview(lambda: arrays.overlay(image, mask), 1, 1, "damage")
    emit.progress(1.0, "Finding damage", f"{mask.mean() * 100:.2f}% of the photo marked")
    return Result(
        images={"prob": prob, "mask": mask},
        info={
            "threshold": threshold,
            "working_size": (ww, wh),
            "model": pack.name,
            "device": session.describe(),
        },
    )


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Give a graph the channel count it declares (gray <-> RGB)."""
    if image.shape[2] == channels:
        return image
    if channels == 1:
        return arrays.luma(image)[..., None]
    return np.repeat(image[..., :1], channels, axis=2)


# --- stage 2: global restoration ------------------------------------------------

DAMAGE_GROW = 2  # px around the mask that always take the restored pixels


TONE_STRIDE = 4  # the tone fit reads every 4th pixel of every 4th row: plenty, and fast


def fit_tone(
    base: np.ndarray, restored: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain and offset mapping ``base`` closest to ``restored`` (least squares
    over the ``keep`` pixels): the network's correction of tone and colour, summed up
    over the whole photo instead of decided patch by patch."""
    step = slice(None, None, TONE_STRIDE)
    chosen = np.asarray(keep, bool)[step, step]
    gain, offset = np.ones(3, np.float32), np.zeros(3, np.float32)
    if chosen.sum() < 16:
        return gain, offset
    for c in range(3):
        x = base[step, step, c][chosen].astype(np.float64)
        y = restored[step, step, c][chosen].astype(np.float64)
        spread = x.var()
        gain[c] = ((x - x.mean()) * (y - y.mean())).mean() / spread if spread > 1e-8 else 1.0
        offset[c] = y.mean() - gain[c] * x.mean()
    return gain, offset


def blend_restoration(
    base: np.ndarray,
    restored: np.ndarray,
    mask: np.ndarray,
    strength: float,
    detail: float | None = None,
) -> np.ndarray:
    """Take the restoration fully where damaged (mask grown a little) and only partly
    elsewhere, over ``base``: the photo, or the classical pre-pass for packs that refine one.

    A small model's global corrections (fading, casts) are guesses that can miss. With
    ``detail`` None, the correction outside the damage is taken with weight ``strength``.
    With ``detail`` it is split: a tone map fitted over the whole photo (:func:`fit_tone`)
    with weight ``strength``, and what the tone map leaves (local detail) with weight
    ``detail``. One tone decision for the whole photo is steadier than one per patch, and
    tiles cannot disagree about it. Both weights are tuned per pack on validation crops
    (manifest options global_strength and detail_strength); ``detail == strength`` is the
    plain blend.
    """
    grown = arrays.dilate(mask, DAMAGE_GROW)
    if detail is None or detail == strength:
        weight = np.maximum(grown, np.float32(strength)).astype(np.float32)[..., None]
        return base + weight * (restored - base)
    gain, offset = fit_tone(base, restored, ~grown)
    out = np.empty_like(base)
    for c in range(3):  # one plane at a time: a 24 MP scan has no room for more copies
        b, r = base[..., c], restored[..., c]
        # base + strength * (tone(base) - base) + detail * (restored - tone(base))
        plane = b * np.float32(1 - strength + (strength - detail) * gain[c])
        plane += np.float32(detail) * r
        plane += np.float32((strength - detail) * offset[c])
        out[..., c] = np.where(grown, r, plane)
    return np.clip(out, 0.0, 1.0, out=out)


def _strength(pack: ModelPack, options: RestoreOptions) -> float:
    value = options.strength
    if value is None:
        value = float(pack.manifest.options.get("global_strength", 1.0))
    if not 0.0 <= value <= 1.0:
        raise HeirloomError(f"restoration strength must be between 0 and 1, not {value}")
    return value


def _detail(pack: ModelPack, strength: float) -> float | None:
    """The pack's weight of local detail outside the damage (None: the plain blend); never
    above ``strength``, so a user who turns the restoration down turns all of it down."""
    value = pack.manifest.options.get("detail_strength")
    return None if value is None else min(float(value), strength)


def _restore_pass(
    pack: ModelPack,
    session: Session,
    image: np.ndarray,
    mask: np.ndarray,
    options: RestoreOptions,
    cancel: CancelToken,
    progress,
) -> np.ndarray:
    """One run of a restore pack over an RGB image and its mask; returns RGB in [0,1]."""
    image_spec = _image_input(pack)
    mask_spec = _spec(pack, "mask")
    prepass_spec = _spec(pack, "prepass")
    radius = int(pack.manifest.options.get("mask_dilate", 0))
    mask = arrays.dilate(mask, radius) if radius else np.asarray(mask, bool)
    stacked = np.concatenate(
        [to_channels(image, image_spec.channels or 3), mask[..., None].astype(np.float32)], axis=2
    )
    split = stacked.shape[2] - 1
    out_spec = pack.manifest.outputs[0]

    def run(batch: np.ndarray) -> np.ndarray:
        feeds = {image_spec.name: arrays.to_model_range(batch[:, :split], image_spec)}
        if mask_spec is not None:
            feeds[mask_spec.name] = arrays.to_model_range(batch[:, split:], mask_spec)
        if prepass_spec is None:
            return session.run(feeds, cancel, [out_spec.name])[0]
        cancel.check()
        done = prepass_batch(batch[:, :split], batch[:, split:])
        feeds[prepass_spec.name] = arrays.to_model_range(done, prepass_spec)
        out = session.run(feeds, cancel, [out_spec.name])[0]
        return np.concatenate([out, done], axis=1)  # the pre-pass is the blend's base

    out = run_tiled(
        run,
        stacked,
        pack.manifest.size_rule,
        tile=_tile_for(pack, options),
        overlap=pack.manifest.tiling.overlap,
        cancel=cancel,
        progress=progress,
    )
    channels = out_spec.channels or 3
    restored = arrays.rgb(arrays.from_model_range(out[..., :channels], out_spec))
    base = out[..., channels:] if prepass_spec is not None else arrays.rgb(image)
    if prepass_spec is not None and options.smoothing < 1.0:  # in place, on the pre-pass
        photo = arrays.rgb(image)
        base -= photo
        base *= np.float32(options.smoothing)
        base += photo
    strength = _strength(pack, options)
    return blend_restoration(base, restored, mask, strength, _detail(pack, strength))


# --- stage 3: faces -----------------------------------------------------------


def _faces_stage(
    original: np.ndarray,
    restored: np.ndarray,
    mask: np.ndarray,
    options: RestoreOptions,
    registry: Registry,
    restore: tuple[ModelPack, Session],
    emit: Emitter,
    cancel: CancelToken,
) -> tuple[np.ndarray, list[tuple[float, float, float, float]], str]:
    """Enhance every face large enough; returns the image, the boxes and the method used."""
    from engine.pipelines import faces as face_ops

    try:
        detector = face_ops.FaceDetector.from_registry(registry, options.device)
    except PackError as exc:
        return restored, [], f"skipped ({exc})"
    emit.progress(0.80, "Faces", "looking for faces")
    found = [
        f
        for f in face_ops.detect_faces(restored, detector, min_face=options.min_face, cancel=cancel)
        if f.score >= FACE_SCORE
    ]
    found = face_ops.confirm_faces(restored, found, detector, MIRROR_SCORE, cancel)
    boxes = [f.box for f in found]
    if not found:
        return restored, [], "no faces found"
    try:
        enhancer = registry.for_task("face-enhance", options.face_model)
        enhance_session = open_pack(enhancer, options.device)
    except PackError:
        enhancer, enhance_session = None, None
    method = enhancer.name if enhancer else f"second {restore[0].name} pass at face scale"
    out = restored
    for index, face in enumerate(found):
        cancel.check()
        crop, matrix = face_ops.align_face(original, face, FACE_CROP)
        if enhancer is not None and enhance_session is not None:
            spec = _image_input(enhancer)
            out_spec = enhancer.manifest.outputs[0]
            x = arrays.to_model_range(crop.transpose(2, 0, 1)[None], spec)
            y = enhance_session.run({spec.name: x}, cancel, [out_spec.name])[0]
            better = arrays.rgb(arrays.from_model_range(y[0].transpose(1, 2, 0), out_spec))
        else:
            crop_mask, _ = face_ops.align_face(mask[..., None].astype(np.float32), face, FACE_CROP)
            better = _restore_pass(
                restore[0],
                restore[1],
                arrays.rgb(crop),
                crop_mask[..., 0] > 0.5,
                replace(options, smoothing=options.smoothing * FACE_SMOOTHING),
                cancel,
                None,
            )
        out = face_ops.paste_face(out, better, matrix, feather=24)
        emit.progress(
            0.8 + 0.15 * (index + 1) / len(found), "Faces", f"face {index + 1}/{len(found)}"
        )
        emit.preview(lambda o=out: arrays.outline_boxes(o, boxes), index + 1, len(found), "faces")
    return out, boxes, method


# --- the whole job --------------------------------------------------------------


def restore_photo(
    image: np.ndarray,
    options: RestoreOptions = RestoreOptions(),
    emit: Emitter | None = None,
    cancel: CancelToken = NEVER,
    registry: Registry | None = None,
) -> Result:
    """Restore a photo (HxWx1 or HxWx3 in [0, 1]) at full resolution.

    Returns ``images={"restored": HxWxC, "mask": HxW bool}`` (+ ``"prob"`` when the
    damage was detected here); info has the packs and devices used, the face boxes
    and the face method. The input array is not modified.
    """
    _check_image(image)
    _check_options(options)
    emit = emit or silent()
    registry = registry or Registry()
    height, width = image.shape[:2]
    gray = image.shape[2] == 1 or bool(
        np.abs(image[..., 0] - image[..., 1]).max() < 1e-6
        and np.abs(image[..., 1] - image[..., 2]).max() < 1e-6
    )
    info: dict = {}
    images: dict[str, np.ndarray] = {}
    restore_pack = registry.for_task("restore", options.restorer)  # fail early if missing
    _strength(restore_pack, options)
    _tile_for(restore_pack, options)
    if options.mask is None and options.scratches != "off":
        _tile_for(registry.for_task("scratch-detect", options.detector), options)
    if options.mask is not None:
        mask = np.asarray(options.mask) > 0.5
        if mask.shape != (height, width):
            raise HeirloomError(
                f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo is {width}x{height}; "
                "they must be the same size"
            )
        info["mask"] = "given"
    elif options.scratches == "off":
        mask = np.zeros((height, width), bool)
        info["mask"] = "off"
    else:
        stage = Emitter(
            lambda e: (
                emit.progress(0.3 * e.fraction, e.stage, e.message)
                if isinstance(e, Progress)
                else None
            ),
            preview_interval=float("inf"),
        )
        detected = detect_scratches(image, options, stage, cancel, registry)
        mask = detected.images["mask"]
        images["prob"] = detected.images["prob"]
        info["mask"] = (
            f"detected by {detected.info['model']} (threshold {detected.info['threshold']})"
        )
        info["detector_device"] = detected.info["device"]
        emit.preview(lambda: arrays.overlay(image, mask), 1, 3, "damage")

    session = open_pack(restore_pack, options.device)
    emit.progress(0.3, "Restoring", f"{restore_pack.name} on {session.describe()}")
    restored = _restore_pass(
        restore_pack,
        session,
        arrays.rgb(image),
        mask,
        options,
        cancel,
        lambda d, t: emit.progress(0.3 + 0.5 * d / t, "Restoring", f"tile {d}/{t}"),
    )
    emit.preview(restored, 2, 3, "global restoration")
    boxes: list = []
    face_method = "off"
    if options.faces:
        restored, boxes, face_method = _faces_stage(
            arrays.rgb(image),
            restored,
            mask,
            options,
            registry,
            (restore_pack, session),
            emit,
            cancel,
        )
    cancel.check()
    if gray and not options.colour:
        restored = arrays.luma(restored)[..., None]
    images.update({"restored": restored.astype(np.float32, copy=False), "mask": mask})
    info.update(
        {
            "model": restore_pack.name,
            "device": session.describe(),
            "faces": boxes,
            "face_method": face_method,
            "gray": gray and not options.colour,
        }
    )
    emit.progress(1.0, "Done", f"{len(boxes)} face(s) refined")
    return Result(images=images, info=info)

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
  of each tile (engine/ops/prepass.py) beside the photo and the mask.
- Every pack is fed through :class:`engine.adapter.PackAdapter` (roles, ranges,
  channels, tiling); the blend back over the photo is :mod:`engine.ops.blend`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine import arrays
from engine.adapter import PackAdapter, tile_size
from engine.cancel import NEVER, CancelToken
from engine.errors import HeirloomError, PackError
from engine.jobs import Emitter, Progress, Result, silent
from engine.limits import MEMORY_MB, SMOOTHING, THRESHOLD, TILE
from engine.models import ModelPack, Registry
from engine.ops.blend import blend_restoration
from engine.ops.prepass import prepass_batch
from engine.pipelines.upscale import (
    UpscaleOptions,
    check_output_size,
    scale_of,
    upscale_image,
    upscale_pack,
)
from engine.runtime import Device
from engine.tiling import DEFAULT_BUDGET_MB

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
    upscale: str | None = None  # an upscale pack run last (engine/pipelines/upscale.py)
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


def _tile_for(pack: ModelPack, options: RestoreOptions) -> int:
    return tile_size(pack, options.tile, options.memory_mb)


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
    model = PackAdapter.open(pack, options.device)
    height, width = image.shape[:2]
    wh, ww = _working_size(pack, height, width, options.working_side)
    emit.progress(0.0, "Finding damage", f"at {ww}x{wh} with {pack.name}")
    gray = arrays.resize_plane(arrays.luma(image), ww, wh)
    model_in = model.to_channels(gray[..., None], "image", default=1)

    def run(batch: np.ndarray) -> np.ndarray:
        return model.run({"image": model.to_model(batch, "image")}, cancel)[0]

    prob_small = model.run_tiled(
        run,
        model_in,
        tile,
        cancel,
        lambda d, t: emit.progress(0.9 * d / t, "Finding damage", f"tile {d}/{t}"),
    )[..., 0]
    prob_small = model.from_model(prob_small)
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
            "device": model.describe(),
        },
    )


# --- stage 2: global restoration ------------------------------------------------


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
    model: PackAdapter,
    image: np.ndarray,
    mask: np.ndarray,
    options: RestoreOptions,
    cancel: CancelToken,
    progress,
) -> np.ndarray:
    """One run of a restore pack over an RGB image and its mask; returns RGB in [0,1]."""
    radius = int(model.options.get("mask_dilate", 0))
    mask = arrays.dilate(mask, radius) if radius else np.asarray(mask, bool)
    stacked = np.concatenate(
        [model.to_channels(image, "image"), mask[..., None].astype(np.float32)], axis=2
    )
    split = stacked.shape[2] - 1
    prepass = model.has("prepass")

    def run(batch: np.ndarray) -> np.ndarray:
        feeds = {"image": model.to_model(batch[:, :split], "image")}
        if model.has("mask"):
            feeds["mask"] = model.to_model(batch[:, split:], "mask")
        if not prepass:
            return model.run(feeds, cancel)[0]
        cancel.check()
        done = prepass_batch(batch[:, :split], batch[:, split:])
        feeds["prepass"] = model.to_model(done, "prepass")
        out = model.run(feeds, cancel)[0]
        return np.concatenate([out, done], axis=1)  # the pre-pass is the blend's base

    out = model.run_tiled(run, stacked, _tile_for(model.pack, options), cancel, progress)
    channels = model.output().channels or 3
    restored = arrays.rgb(model.from_model(out[..., :channels]))
    base = out[..., channels:] if prepass else arrays.rgb(image)
    if prepass and options.smoothing < 1.0:  # in place, on the pre-pass
        photo = arrays.rgb(image)
        base -= photo
        base *= np.float32(options.smoothing)
        base += photo
    strength = _strength(model.pack, options)
    return blend_restoration(base, restored, mask, strength, _detail(model.pack, strength))


# --- stage 3: faces -----------------------------------------------------------

FACE_TASKS = ("face-enhance", "face-restore")
FACE_FEATHER = 24  # paste-back ramp in pixels of a FACE_CROP crop (scaled for larger ones)


def named_pack(registry: Registry, name: str, tasks: tuple[str, ...], stage: str) -> ModelPack:
    """The pack the user named for ``stage``, refused in one line when its task is not
    one of ``tasks`` (a detector chosen as the face model, say)."""
    pack = registry.get(name)
    if pack.manifest.task not in tasks:
        raise PackError(
            f"model pack '{name}' is for {pack.manifest.task}; {stage} takes a "
            f"{' or '.join(tasks)} pack"
        )
    return pack


def face_pack(registry: Registry, name: str | None) -> ModelPack | None:
    """The face pass's network: the named ``face-enhance`` or ``face-restore`` pack
    (imported GFPGAN, CodeFormer, RestoreFormer), else an installed ``face-enhance``
    pack, else None (a second restoration pass at the face's scale)."""
    if name:
        return named_pack(registry, name, FACE_TASKS, "the face pass")
    try:
        return registry.for_task("face-enhance")
    except PackError:
        return None


def face_restore_size(pack: ModelPack) -> int:
    """The side of the aligned crop a face-restore pack takes (512 for GFPGAN & co.)."""
    fixed = pack.manifest.size_rule.fixed
    return fixed[0] if fixed else 512


def _faces_stage(
    original: np.ndarray,
    restored: np.ndarray,
    mask: np.ndarray,
    options: RestoreOptions,
    registry: Registry,
    restorer: PackAdapter,
    emit: Emitter,
    cancel: CancelToken,
) -> tuple[np.ndarray, list[tuple[float, float, float, float]], str]:
    """Enhance every face large enough; returns the image, the boxes and the method used."""
    from engine.ops import faces as face_ops  # MTCNN's cascade: only when faces are asked for

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
    pack = face_pack(registry, options.face_model)
    enhancer = None if pack is None else PackAdapter.open(pack, options.device)
    method = enhancer.name if enhancer else f"second {restorer.name} pass at face scale"
    size, template = FACE_CROP, face_ops.TEMPLATE
    if enhancer is not None and pack.manifest.task == "face-restore":
        size, template = face_restore_size(pack), face_ops.FFHQ_TEMPLATE
    out = restored
    for index, face in enumerate(found):
        cancel.check()
        crop, matrix = face_ops.align_face(original, face, size, template)
        if enhancer is not None:
            x = enhancer.to_model(crop.transpose(2, 0, 1)[None], "image")
            y = enhancer.run({"image": x}, cancel)[0]
            better = arrays.rgb(enhancer.from_model(y[0].transpose(1, 2, 0)))
        else:
            crop_mask, _ = face_ops.align_face(mask[..., None].astype(np.float32), face, FACE_CROP)
            better = _restore_pass(
                restorer,
                arrays.rgb(crop),
                crop_mask[..., 0] > 0.5,
                replace(options, smoothing=options.smoothing * FACE_SMOOTHING),
                cancel,
                None,
            )
        out = face_ops.paste_face(out, better, matrix, feather=FACE_FEATHER * size // FACE_CROP)
        emit.progress(
            0.8 + 0.15 * (index + 1) / len(found), "Faces", f"face {index + 1}/{len(found)}"
        )
        emit.preview(lambda o=out: arrays.outline_boxes(o, boxes), index + 1, len(found), "faces")
    return out, boxes, method


# --- the whole job --------------------------------------------------------------

RESTORER_TASKS = ("restore", "denoise")


def restorer_pack(registry: Registry, name: str | None) -> ModelPack:
    """The global stage's network: a named ``restore`` or ``denoise`` pack (imported
    SCUNet, NAFNet: image in, image out, fed the same way without mask or pre-pass),
    else the preferred ``restore`` pack, as before."""
    if name:
        return named_pack(registry, name, RESTORER_TASKS, "the restore stage")
    return registry.for_task("restore")


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
    restore_pack = restorer_pack(registry, options.restorer)  # fail early if missing
    if options.faces:
        face_pack(registry, options.face_model)
    upscaler = _upscaler(registry, options, height, width)
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

    restorer = PackAdapter.open(restore_pack, options.device)
    emit.progress(0.3, "Restoring", f"{restore_pack.name} on {restorer.describe()}")
    restored = _restore_pass(
        restorer,
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
            restorer,
            emit,
            cancel,
        )
    cancel.check()
    if gray and not options.colour:
        restored = arrays.luma(restored)[..., None]
    if upscaler is not None:
        restored = _upscale_stage(restored, upscaler, options, emit, cancel, registry)
        info["upscaled"] = f"x{scale_of(upscaler)} with {upscaler.name}"
    images.update({"restored": restored.astype(np.float32, copy=False), "mask": mask})
    info.update(
        {
            "model": restore_pack.name,
            "device": restorer.describe(),
            "faces": boxes,
            "face_method": face_method,
            "gray": gray and not options.colour,
        }
    )
    emit.progress(1.0, "Done", f"{len(boxes)} face(s) refined")
    return Result(images=images, info=info)


def _upscaler(
    registry: Registry, options: RestoreOptions, height: int, width: int
) -> ModelPack | None:
    """The last stage's upscale pack, checked before any work (None: no upscaling)."""
    if not options.upscale:
        return None
    pack = upscale_pack(registry, options.upscale)
    check_output_size(height, width, scale_of(pack))
    tile_size(pack, options.tile, options.memory_mb)
    return pack


def _upscale_stage(
    restored: np.ndarray,
    pack: ModelPack,
    options: RestoreOptions,
    emit: Emitter,
    cancel: CancelToken,
    registry: Registry,
) -> np.ndarray:
    """The restored photo enlarged by ``pack`` (progress shown as the last 5 %)."""
    stage = Emitter(
        lambda e: (
            emit.progress(0.95 + 0.05 * e.fraction, "Upscaling", e.message)
            if isinstance(e, Progress)
            else None
        ),
        preview_interval=float("inf"),
    )
    upscale_options = UpscaleOptions(
        model=pack.name, device=options.device, tile=options.tile, memory_mb=options.memory_mb
    )
    return upscale_image(restored, upscale_options, stage, cancel, registry).images["upscaled"]

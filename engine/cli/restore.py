"""``heirloom restore``: one photo, or every photo in a folder (not resumable: for
collections, ``heirloom batch``).

A user mask of another size is resized (with a warning) when its aspect ratio
matches the photo's, because masks painted on a downsized copy are common; any
other size is an error, since a stretched mask would mark the wrong pixels.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from engine import arrays
from engine.cancel import CancelToken
from engine.cli.console import ConsoleProgress
from engine.errors import Cancelled, HeirloomError
from engine.files import check_outputs, same_file
from engine.images import FORMATS, LoadedImage, check_writable, load_image, save_image
from engine.limits import QUALITY, SMOOTHING, THRESHOLD, TILE
from engine.pipelines.restore import RestoreOptions, restore_photo
from engine.pipelines.upscale import enlarged_meta, upscale_alpha
from engine.runtime import DEVICES

HELP = "restore a photo, or every photo in a folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="a photo or a folder of photos")
    parser.add_argument("-o", "--output", type=Path, required=True, help="file, or folder")
    parser.add_argument(
        "--scratches", default="auto", help="auto (detect), off, or a mask image (white = damage)"
    )
    parser.add_argument("--threshold", type=THRESHOLD.parse, help="scratch threshold 0..1")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--face-model",
        metavar="NAME",
        help="face-restore pack for the face pass (imported GFPGAN, CodeFormer, RestoreFormer)",
    )
    parser.add_argument("--colour", action="store_true", help="keep RGB output for gray scans")
    parser.add_argument(
        "--smoothing",
        type=SMOOTHING.parse,
        default=1.0,
        help="0..1: how much of the denoising to keep outside the damage (0 keeps the grain)",
    )
    parser.add_argument("--save-mask", type=Path, help="write the damage mask used")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="default: the input's")
    parser.add_argument("--quality", type=QUALITY.parse, default=95, help="JPEG/WebP quality")
    parser.add_argument(
        "--tile",
        type=TILE.parse,
        help=f"tile size in pixels, {TILE.describe()} (default: from memory)",
    )
    parser.add_argument(
        "--model",
        "--restore-model",
        dest="model",
        help="restore or denoise pack for the global stage (default: the best restore pack)",
    )
    parser.add_argument(
        "--upscale", metavar="NAME", help="enlarge the result last with this upscale pack"
    )
    parser.add_argument("--detector", help="scratch-detect pack name")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def _user_mask(path: Path, height: int, width: int) -> np.ndarray:
    loaded = load_image(path)
    mask = arrays.luma(loaded.pixels)
    if mask.shape != (height, width):
        mh, mw = mask.shape
        if abs(mw / mh - width / height) > 0.01:
            raise HeirloomError(
                f"the mask {path.name} is {mw}x{mh} but the photo is {width}x{height}; "
                "paint the mask on the same photo"
            )
        print(
            f"heirloom: warning: mask {path.name} is {mw}x{mh}; resized to {width}x{height}",
            file=sys.stderr,
        )
        mask = arrays.resize_plane(mask, width, height)
    return mask > 0.5


def _restore_one(photo: LoadedImage, output: Path, args: argparse.Namespace, quiet: bool) -> dict:
    mask = None
    scratches = args.scratches
    if scratches not in ("auto", "off"):
        mask = _user_mask(Path(scratches), photo.height, photo.width)
    options = RestoreOptions(
        scratches=scratches if mask is None else "auto",
        mask=mask,
        threshold=args.threshold,
        faces=args.faces,
        face_model=args.face_model,
        colour=args.colour,
        smoothing=args.smoothing,
        device=args.device,
        tile=args.tile,
        restorer=args.model,
        detector=args.detector,
        upscale=args.upscale,
    )
    progress = ConsoleProgress(quiet=quiet)
    result = restore_photo(photo.pixels, options, progress.emitter(), CancelToken())
    progress.done()
    restored = result.images["restored"]
    meta, alpha = photo.meta, photo.alpha
    scale = restored.shape[0] // photo.height
    if scale > 1:  # --upscale: alpha and DPI follow the enlarged picture
        meta = enlarged_meta(meta, scale)
        alpha = None if alpha is None else upscale_alpha(alpha, *restored.shape[:2])
    save_image(
        output,
        restored,
        meta=meta,
        alpha=alpha,
        bit_depth=args.bit_depth,
        quality=args.quality,
        overwrite=args.overwrite,
    )
    if args.save_mask:
        target = _mask_target(args.save_mask, output)
        save_image(target, result.images["mask"].astype(np.float32), overwrite=args.overwrite)
    return result.info


def _mask_target(save_mask: Path, output: Path) -> Path:
    """Where ``--save-mask`` goes for ``output``: the path, or a file in that folder."""
    return save_mask / f"{output.stem}_mask.png" if save_mask.is_dir() else save_mask


def _scratch_file(args: argparse.Namespace) -> Path | None:
    return None if args.scratches in ("auto", "off") else Path(args.scratches)


def _check_paths(source: Path, output: Path, args: argparse.Namespace) -> None:
    """Every output against every input, and each writable, before any work."""
    mask = _mask_target(args.save_mask, output) if args.save_mask else None
    check_outputs([source, _scratch_file(args)], [output, mask])
    check_writable(output, args.overwrite)
    if mask is not None:
        check_writable(mask, args.overwrite)


def run(args: argparse.Namespace) -> int:
    if args.input.is_dir():
        return _restore_folder(args)
    _check_paths(args.input, args.output, args)
    photo = load_image(args.input)
    info = _restore_one(photo, args.output, args, args.quiet)
    upscaled = f"; upscaled {info['upscaled']}" if "upscaled" in info else ""
    print(
        f"{args.output}: restored with {info['model']} on {info['device']}; mask "
        f"{info['mask']}; faces: {len(info['faces'])} ({info['face_method']}){upscaled}"
    )
    return 0


def _restore_folder(args: argparse.Namespace) -> int:
    out_dir: Path = args.output
    if out_dir.exists() and not out_dir.is_dir():
        raise HeirloomError(f"{out_dir} is a file; give a folder for the restored photos")
    if same_file(out_dir, args.input):
        raise HeirloomError("the output folder must differ from the input folder")
    if not out_dir.parent.is_dir():
        raise HeirloomError(f"the folder {out_dir.parent} does not exist")
    files = sorted(p for p in args.input.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
    if not files:
        raise HeirloomError(f"no photos (.png, .jpg, .tif, .webp, .bmp) in {args.input}")
    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    failures: list[tuple[str, str]] = []
    done = 0
    try:
        for index, path in enumerate(files, 1):
            target = out_dir / path.name
            try:
                _check_paths(path, target, args)
                photo = load_image(path)
                info = _restore_one(photo, target, args, quiet=True)
                done += 1
                print(f"[{index}/{len(files)}] ok      {path.name} ({len(info['faces'])} faces)")
            except HeirloomError as exc:
                failures.append((path.name, str(exc)))
                print(f"[{index}/{len(files)}] FAILED  {path.name}: {exc}", file=sys.stderr)
    except (KeyboardInterrupt, Cancelled):
        raise Cancelled(
            f"{done} of {len(files)} photos were restored into {out_dir} and are complete; "
            "the photo in progress was not written"
        ) from None
    finally:
        if created and done == 0:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # nothing was written: leave no empty folder behind
    print(f"restored {done} of {len(files)} photos into {out_dir}")
    for name, reason in failures:
        print(f"  skipped {name}: {reason}")
    return 2 if failures else 0

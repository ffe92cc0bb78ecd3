"""``heirloom diffuse generate | inpaint | edit``: the diffusion jobs on the command line.

``--previews DIR`` writes every step's x0 preview as ``frame_0001.png`` ... (and with
``--gif`` an animated ``denoising.gif``) so the denoising can be watched afterwards.
Frames go to a hidden staging folder inside DIR and are moved in only when the job
succeeds, so an interrupted run leaves neither frames nor a result behind.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from engine import arrays
from engine.cancel import CancelToken
from engine.cli.console import ConsoleProgress
from engine.errors import HeirloomError
from engine.files import check_outputs, same_file
from engine.images import LoadedImage, check_writable, load_image, save_image
from engine.jobs import Emitter, Event, Preview, Result
from engine.limits import (
    CONTEXT,
    COUNT,
    DRAWS,
    ETA,
    JUMP_LENGTH,
    JUMP_N_SAMPLE,
    SEED,
    STEPS,
    STRENGTH,
)
from engine.pipelines.diffusion import (
    SAMPLERS,
    EditOptions,
    GenerateOptions,
    InpaintOptions,
    edit,
    generate,
    inpaint,
)

GIF_SIDE = 512  # long side of the animation's frames; full-size frames stay as PNGs
GIF_FRAMES = 200  # at most this many frames in the animation (evenly picked)


HELP = "DDPM: generate, inpaint (RePaint), edit (SDEdit)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # type(parser): the CLI's own parser class, whose errors are one line and exit 2
    inner = parser.add_subparsers(dest="diffuse_command", required=True, parser_class=type(parser))

    gen = inner.add_parser("generate", help="sample images from noise")
    gen.add_argument("-o", "--output", type=Path, required=True, help="image file")
    gen.add_argument("--count", type=COUNT.parse, default=1, help="N images: OUT_1 .. OUT_N")
    _sampler_args(gen, steps=GenerateOptions.steps)

    fill = inner.add_parser("inpaint", help="fill the white part of a mask (RePaint)")
    fill.add_argument("input", type=Path)
    fill.add_argument("--mask", type=Path, required=True, help="white = fill, same size")
    fill.add_argument("-o", "--output", type=Path, required=True)
    fill.add_argument("--jump-length", type=JUMP_LENGTH.parse, default=InpaintOptions.jump_length)
    fill.add_argument(
        "--jump-n-sample",
        type=JUMP_N_SAMPLE.parse,
        default=InpaintOptions.jump_n_sample,
        help="1 = no resampling; more harmonises the fill with its surroundings, slower",
    )
    fill.add_argument(
        "--context", type=CONTEXT.parse, help="px of context around each window's core"
    )
    fill.add_argument(
        "--draws",
        type=DRAWS.parse,
        default=InpaintOptions.draws,
        help="fills averaged per window (in antithetic pairs): more is closer to the truth "
        "and slower; 1 = grainy; a photo of many windows (1024x768) is filled with 2",
    )
    fill.add_argument(
        "--strength",
        type=STRENGTH.parse,
        default=InpaintOptions.strength,
        help="(0, 1]: how far up the chain the fill starts from a Telea fill; 1 = from noise",
    )
    _sampler_args(fill, steps=InpaintOptions.steps, sampler=InpaintOptions.sampler)

    change = inner.add_parser("edit", help="turn rough strokes into a plausible image (SDEdit)")
    change.add_argument("input", type=Path)
    change.add_argument("--mask", type=Path, help="white = may change (default: everything)")
    change.add_argument("-o", "--output", type=Path, required=True)
    change.add_argument(
        "--strength",
        type=STRENGTH.parse,
        default=EditOptions.strength,
        help="(0, 1]: how much changes",
    )
    change.add_argument(
        "--context", type=CONTEXT.parse, help="px of context around each window's core"
    )
    _sampler_args(change, steps=EditOptions.steps)


def run(args: argparse.Namespace) -> int:
    jobs = {"generate": cmd_generate, "inpaint": cmd_inpaint, "edit": cmd_edit}
    return jobs[args.diffuse_command](args)


def _sampler_args(parser: argparse.ArgumentParser, steps: int, sampler: str = "ddim") -> None:
    parser.add_argument("--steps", type=STEPS.parse, default=steps, help=f"default {steps}")
    parser.add_argument("--seed", type=SEED.parse, help="same seed, same result (default: random)")
    parser.add_argument("--sampler", choices=sorted(SAMPLERS), default=sampler)
    parser.add_argument("--eta", type=ETA.parse, default=0.0, help="DDIM noise, 0..1")
    parser.add_argument("--previews", type=Path, help="write every step's preview here")
    parser.add_argument("--gif", action="store_true", help="with --previews: denoising.gif")
    parser.add_argument("--model", help="ddpm-eps pack name (default: best installed)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def _common(args: argparse.Namespace) -> dict:
    return {
        "steps": args.steps,
        "seed": args.seed,
        "sampler": args.sampler,
        "eta": args.eta,
        "model": args.model,
        "device": args.device,
    }


# --- outputs --------------------------------------------------------------------


class PreviewFrames:
    """Collects Preview events as numbered PNGs in a staging folder inside ``folder``."""

    def __init__(self, folder: Path, overwrite: bool, gif: bool) -> None:
        if folder.exists() and not folder.is_dir():
            raise HeirloomError(f"--previews {folder} is a file; give a folder")
        if not folder.parent.is_dir():
            raise HeirloomError(f"the folder {folder.parent} does not exist")
        folder.mkdir(exist_ok=True)
        if not overwrite and any(folder.glob("frame_*.png")):
            raise HeirloomError(f"{folder} already holds frames; use --overwrite to replace them")
        self.folder, self.gif = folder, gif
        self.staging = Path(tempfile.mkdtemp(prefix=".heirloom-frames-", dir=folder))
        self.frames: list[Path] = []

    def add(self, preview: Preview) -> None:
        path = self.staging / f"frame_{len(self.frames) + 1:04d}.png"
        Image.fromarray(_uint8(preview.image)).save(path)
        self.frames.append(path)

    def commit(self) -> str:
        """Move the frames into place (and write the animation); returns a summary."""
        for old in self.folder.glob("frame_*.png"):
            old.unlink()
        for frame in self.frames:
            frame.replace(self.folder / frame.name)
        note = f"{len(self.frames)} preview frames in {self.folder}"
        if self.gif and self.frames:
            _animation([self.folder / f.name for f in self.frames], self.folder / "denoising.gif")
            note += " and denoising.gif"
        return note

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(arrays.rgb(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _animation(frames: list[Path], target: Path) -> None:
    picked = frames[:: max(1, -(-len(frames) // GIF_FRAMES))]
    if picked[-1] != frames[-1]:
        picked.append(frames[-1])
    images = []
    for path in picked:
        with Image.open(path) as frame:
            image = frame.convert("RGB")
        image.thumbnail((GIF_SIDE, GIF_SIDE), Image.Resampling.LANCZOS)
        images.append(image)
    durations = [80] * (len(images) - 1) + [1500]  # hold the result
    partial = target.with_name(f".{target.name}.part")
    images[0].save(
        partial, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
    )
    partial.replace(target)


def _run(args: argparse.Namespace, job) -> Result:
    """Run ``job(emit, cancel)`` with console progress and, if asked, preview frames."""
    if args.gif and not args.previews:
        raise HeirloomError("--gif needs --previews DIR (the frames it is made of)")
    console = ConsoleProgress(quiet=args.quiet)
    frames = PreviewFrames(args.previews, args.overwrite, args.gif) if args.previews else None

    def sink(event: Event) -> None:
        console(event)
        if frames is not None and isinstance(event, Preview):
            frames.add(event)

    emitter = Emitter(sink, preview_interval=0.0 if frames else float("inf"))
    try:
        result = job(emitter, CancelToken())
        console.done()
        if frames is not None:
            print(frames.commit())
        return result
    finally:
        if frames is not None:
            frames.discard()


def _check_paths(args: argparse.Namespace, inputs: list[Path | None], outputs: list[Path]) -> None:
    """Outputs (and the previews folder) never touch an input; checked before any work."""
    check_outputs(inputs, outputs)
    for path in outputs:
        check_writable(path, args.overwrite)
    if args.previews is not None:
        for source in inputs:
            if source is not None and same_file(Path(source).parent, args.previews):
                raise HeirloomError(
                    f"--previews {args.previews} holds the input {source}; preview frames "
                    "replace what is in that folder, so give an empty or new folder"
                )


def _load_mask(path: Path) -> np.ndarray:
    return arrays.luma(load_image(path).pixels)


def _save(path: Path, pixels: np.ndarray, photo: LoadedImage | None, overwrite: bool) -> None:
    if photo is None:
        save_image(path, pixels, overwrite=overwrite)
    else:
        save_image(path, pixels, meta=photo.meta, alpha=photo.alpha, overwrite=overwrite)


def _summary(path: Path, verb: str, info: dict) -> str:
    return (
        f"{path}: {verb} with {info['model']} on {info['device']}, {info['model_calls']} model "
        f"calls, seed {info['seed']} ({info['seconds']:.1f} s)"
    )


# --- commands -------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    out: Path = args.output
    paths = (
        [out]
        if args.count == 1
        else [out.with_stem(f"{out.stem}_{i + 1}") for i in range(args.count)]
    )
    _check_paths(args, [], paths)
    options = GenerateOptions(count=args.count, **_common(args))
    result = _run(args, lambda emit, cancel: generate(options, emit, cancel))
    keys = ["image"] if args.count == 1 else [f"image_{i + 1}" for i in range(args.count)]
    for path, key in zip(paths, keys, strict=True):
        _save(path, result.images[key], None, args.overwrite)
    print(_summary(paths[0] if len(paths) == 1 else out.parent, "generated", result.info))
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    _check_paths(args, [args.input, args.mask], [args.output])
    photo = load_image(args.input)
    mask = _load_mask(args.mask)
    options = InpaintOptions(
        jump_length=args.jump_length,
        jump_n_sample=args.jump_n_sample,
        context=args.context,
        draws=args.draws,
        strength=args.strength,
        **_common(args),
    )
    result = _run(args, lambda emit, cancel: inpaint(photo.pixels, mask, options, emit, cancel))
    _save(args.output, result.images["image"], photo, args.overwrite)
    print(_summary(args.output, f"inpainted in {result.info['windows']} window(s)", result.info))
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    _check_paths(args, [args.input, args.mask], [args.output])
    photo = load_image(args.input)
    mask = _load_mask(args.mask) if args.mask else None
    options = EditOptions(strength=args.strength, context=args.context, **_common(args))
    result = _run(args, lambda emit, cancel: edit(photo.pixels, options, mask, emit, cancel))
    _save(args.output, result.images["image"], photo, args.overwrite)
    print(_summary(args.output, f"edited at strength {args.strength}", result.info))
    return 0

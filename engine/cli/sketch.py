"""``heirloom sketch``: line drawing -> generated photo (``heirloom edges`` makes one).

    heirloom sketch EDGES.png -o OUT.png [--into PHOTO --mask MASK] [--colors HINTS]
                    [--model NAME] [--device auto|cpu|cuda] [--no-thin] [--overwrite] [-q]

Without ``--into`` the whole drawing becomes a new photo (a ``sketch2photo`` pack, or,
with ``--colors``, the ``sketch-into`` pack over the whole frame). With ``--into`` only
the white part of MASK is redrawn to follow the lines (and colours); every other pixel
of PHOTO is written back unchanged, at its bit depth, with its metadata.

It only loads, calls the pipeline in :mod:`engine.pipelines.sketch` and saves; every
problem the user can fix (a photo given to ``sketch``, an empty canvas, an existing
output) ends as one line and exit code 2, and nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine import arrays
from engine.errors import HeirloomError
from engine.files import check_outputs
from engine.images import ImageMeta, check_writable, load_image, save_image
from engine.runtime import DEVICES

HELP = "turn a line drawing into a photo, or redraw a region of a photo along your lines"
PAPER = 0.98  # a hints image without alpha: lighter than this in every channel is paper


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("edges", type=Path, help="black lines on white (white on black works)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="image to write")
    parser.add_argument(
        "--into", type=Path, metavar="PHOTO", help="redraw a region of this photo (with --mask)"
    )
    parser.add_argument("--mask", type=Path, help="white = the region of PHOTO to redraw")
    parser.add_argument(
        "--colors",
        type=Path,
        metavar="HINTS",
        help="colour hints: an image of the same size, transparent where there is no hint",
    )
    parser.add_argument("--model", help="pack name (default: the preferred one for the task)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument(
        "--no-thin",
        action="store_true",
        help="feed strokes as drawn instead of thinning them to 1-px lines",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def check_paths(source: Path, output: Path, overwrite: bool) -> None:
    """The output is never the input, and is writable, before any work starts."""
    check_outputs([source], [output])
    check_writable(output, overwrite)


def on_white(path: Path) -> tuple[np.ndarray, ImageMeta]:
    """Pixels with any transparency composited onto white paper, and the image's meta."""
    loaded = load_image(path)
    pixels = loaded.pixels
    if loaded.alpha is not None:
        alpha = loaded.alpha[..., None]
        pixels = pixels * alpha + (1.0 - alpha)
    return pixels, loaded.meta


def colour_hints(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(colours, where) from a hints image: its alpha says where; without alpha, every
    pixel that is not white paper is a hint."""
    loaded = load_image(path)
    if (loaded.height, loaded.width) != shape:
        raise HeirloomError(
            f"{path}: the colour hints are {loaded.width}x{loaded.height}, the drawing "
            f"{shape[1]}x{shape[0]}; they must be the same size"
        )
    colours = arrays.rgb(loaded.pixels)
    if loaded.alpha is not None:
        return colours, loaded.alpha > 0.5
    return colours, colours.min(axis=2) < PAPER


def region_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """White (or opaque, for a mask painted on transparency) = redraw."""
    loaded = load_image(path)
    if (loaded.height, loaded.width) != shape:
        raise HeirloomError(
            f"{path}: the mask is {loaded.width}x{loaded.height}, the photo "
            f"{shape[1]}x{shape[0]}; they must be the same size"
        )
    values = arrays.luma(loaded.pixels)  # gray masks pass through
    if loaded.alpha is not None:
        values = values * loaded.alpha
    return values > 0.5


def run(args: argparse.Namespace) -> int:
    if args.into is not None or args.mask is not None or args.colors is not None:
        return run_into(args)
    from engine.cli.console import ConsoleProgress
    from engine.pipelines.sketch import SketchOptions, sketch_to_photo

    check_paths(args.edges, args.output, args.overwrite)
    pixels, meta = on_white(args.edges)
    options = SketchOptions(model=args.model, device=args.device, thin=not args.no_thin)
    progress = ConsoleProgress(quiet=args.quiet)
    result = sketch_to_photo(pixels, options, progress.emitter())
    progress.done()
    photo = result.images["photo"]
    meta = ImageMeta(source=meta.source)
    save_image(args.output, photo, meta=meta, bit_depth=8, overwrite=args.overwrite)
    if result.info["inverted"]:
        print("note: the drawing had light lines on a dark ground; it was inverted first")
    print(
        f"wrote {args.output} ({photo.shape[1]}x{photo.shape[0]}) with {result.info['model']} "
        f"on {result.info['device']}"
    )
    return 0


def run_into(args: argparse.Namespace) -> int:
    """Redraw a region of ``--into`` (or, without it, the whole frame with ``--colors``)."""
    from engine.cli.console import ConsoleProgress
    from engine.pipelines.sketch import IntoOptions, sketch_into_photo

    if args.into is not None and args.mask is None:
        raise HeirloomError("--into needs --mask: paint white where the photo is to be redrawn")
    if args.into is None and args.mask is not None:
        raise HeirloomError("--mask is the part of a photo to redraw: give the photo with --into")
    sources = [p for p in (args.edges, args.into, args.mask, args.colors) if p is not None]
    check_outputs(sources, [args.output])
    check_writable(args.output, args.overwrite)
    lines, _ = on_white(args.edges)
    shape = lines.shape[:2]
    alpha = None
    if args.into is not None:
        loaded = load_image(args.into)
        if (loaded.height, loaded.width) != shape:
            raise HeirloomError(
                f"{args.edges}: the drawing is {shape[1]}x{shape[0]}, the photo "
                f"{loaded.width}x{loaded.height}; they must be the same size"
            )
        photo, meta, alpha = loaded.pixels, loaded.meta, loaded.alpha
        region = region_mask(args.mask, shape)
    else:
        photo, meta = np.ones((*shape, 3), np.float32), ImageMeta(source=args.edges)
        region = np.ones(shape, bool)
    hints, where = colour_hints(args.colors, shape) if args.colors else (None, None)
    options = IntoOptions(model=args.model, device=args.device, thin=not args.no_thin)
    progress = ConsoleProgress(quiet=args.quiet)
    result = sketch_into_photo(photo, region, lines, hints, where, options, progress.emitter())
    progress.done()
    out = result.images["photo"]
    if args.into is not None and photo.shape[2] == 1 and not bool(np.any(out != out[..., :1])):
        out = out[..., :1]  # a gray photo redrawn in gray stays a gray file
    save_image(args.output, out, meta=meta, alpha=alpha, overwrite=args.overwrite)
    share = 100 * result.info["region_share"]
    print(
        f"wrote {args.output} ({out.shape[1]}x{out.shape[0]}, {share:.1f} % redrawn) with "
        f"{result.info['model']} on {result.info['device']}"
    )
    return 0

"""``heirloom sketch``: line drawing -> generated photo (``heirloom edges`` makes one).

    heirloom sketch EDGES.png -o OUT.png [--model NAME] [--device auto|cpu|cuda]
                    [--no-thin] [--overwrite] [-q]

It only loads, calls the pipeline in :mod:`engine.pipelines.sketch` and saves; every
problem the user can fix (a photo given to ``sketch``, an empty canvas, an existing
output) ends as one line and exit code 2, and nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.files import check_outputs
from engine.images import ImageMeta, check_writable, load_image, save_image
from engine.runtime import DEVICES

HELP = "turn a line drawing into a photo (sketch2photo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("edges", type=Path, help="black lines on white (white on black works)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="image to write")
    parser.add_argument("--model", help="sketch2photo pack name (default: the preferred one)")
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


def run(args: argparse.Namespace) -> int:
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

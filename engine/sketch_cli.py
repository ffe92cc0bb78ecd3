"""``heirloom edges`` and ``heirloom sketch``: photo -> line drawing -> generated photo.

    heirloom edges PHOTO -o EDGES.png [--detail 0.5] [--overwrite] [-q]
    heirloom sketch EDGES.png -o OUT.png [--model NAME] [--device auto|cpu|cuda]
                    [--no-thin] [--overwrite] [-q]

Both only load, call the pipeline in :mod:`engine.pipelines.sketch` and save; every
problem the user can fix (a photo given to ``sketch``, an empty canvas, an existing
output) ends as one line and exit code 2, and nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.files import check_outputs
from engine.images import ImageMeta, check_writable, load_image, save_image
from engine.limits import DETAIL
from engine.runtime import DEVICES


def add_sketch_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``edges`` and ``sketch`` (one line in :data:`engine.cli.COMMANDS`)."""
    edges = sub.add_parser(
        "edges", help="trace a photo's edges into a line drawing (black lines on white)"
    )
    edges.add_argument("photo", type=Path)
    edges.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    edges.add_argument(
        "--detail",
        type=DETAIL.parse,
        default=0.5,
        help="0 keeps only strong contours, 1 nearly every boundary (default 0.5)",
    )
    edges.add_argument("--overwrite", action="store_true", help="replace an existing output")
    edges.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    edges.set_defaults(func=cmd_edges)

    sketch = sub.add_parser("sketch", help="turn a line drawing into a photo (sketch2photo)")
    sketch.add_argument("edges", type=Path, help="black lines on white (white on black works)")
    sketch.add_argument("-o", "--output", type=Path, required=True, help="image to write")
    sketch.add_argument("--model", help="sketch2photo pack name (default: the preferred one)")
    sketch.add_argument("--device", choices=DEVICES, default="auto")
    sketch.add_argument(
        "--no-thin",
        action="store_true",
        help="feed strokes as drawn instead of thinning them to 1-px lines",
    )
    sketch.add_argument("--overwrite", action="store_true", help="replace an existing output")
    sketch.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sketch.set_defaults(func=cmd_sketch)


def _check_paths(source: Path, output: Path, overwrite: bool) -> None:
    """The output is never the input, and is writable, before any work starts."""
    check_outputs([source], [output])
    check_writable(output, overwrite)


def _on_white(path: Path) -> tuple[np.ndarray, ImageMeta]:
    """Pixels with any transparency composited onto white paper, and the image's meta."""
    loaded = load_image(path)
    pixels = loaded.pixels
    if loaded.alpha is not None:
        alpha = loaded.alpha[..., None]
        pixels = pixels * alpha + (1.0 - alpha)
    return pixels, loaded.meta


def cmd_edges(args: argparse.Namespace) -> int:
    from engine.console import ConsoleProgress
    from engine.pipelines.sketch import trace_edges

    _check_paths(args.photo, args.output, args.overwrite)
    pixels, meta = _on_white(args.photo)
    progress = ConsoleProgress(quiet=args.quiet)
    progress.show(0.0, "tracing edges", f"detail {args.detail:g}")
    edges = trace_edges(pixels, args.detail)
    progress.show(1.0, "done")
    progress.done()
    # No ICC or EXIF: a line drawing is not colour-managed, and the pixels are already
    # turned upright, so a copied orientation tag would turn them twice.
    save_image(
        args.output,
        edges,
        meta=ImageMeta(source=meta.source, dpi=meta.dpi),
        bit_depth=8,
        overwrite=args.overwrite,
    )
    lines = int((edges < 0.5).sum())
    print(
        f"wrote {args.output} ({edges.shape[1]}x{edges.shape[0]}, {lines} line pixels, "
        f"detail {args.detail:g})"
    )
    return 0


def cmd_sketch(args: argparse.Namespace) -> int:
    from engine.console import ConsoleProgress
    from engine.pipelines.sketch import SketchOptions, sketch_to_photo

    _check_paths(args.edges, args.output, args.overwrite)
    pixels, meta = _on_white(args.edges)
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

"""``heirloom edges``: trace a photo's edges into a line drawing (black lines on white).

heirloom edges PHOTO -o EDGES.png [--detail 0.5] [--overwrite] [-q]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.sketch import check_paths, on_white
from engine.images import ImageMeta, save_image
from engine.limits import DETAIL

HELP = "trace a photo's edges into a line drawing (black lines on white)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    parser.add_argument(
        "--detail",
        type=DETAIL.parse,
        default=0.5,
        help="0 keeps only strong contours, 1 nearly every boundary (default 0.5)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from engine.cli.console import ConsoleProgress
    from engine.pipelines.sketch import trace_edges

    check_paths(args.photo, args.output, args.overwrite)
    pixels, meta = on_white(args.photo)
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

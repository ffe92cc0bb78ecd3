"""``heirloom colorize IN -o OUT [--model NAME]``: colour for a black-and-white photo.

The photo's luminance is kept; the colorize pack (our own ``heirloom-colorize``, or an
imported DDColor) only chooses the colour (see :mod:`engine.pipelines.colorize`). The
output is RGB with the photo's bit depth, alpha and metadata. Problems the user can
fix end as one line and exit code 2, and nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.arguments import add_single_output_arguments, save_single_output
from engine.cli.console import ConsoleProgress
from engine.files import check_outputs
from engine.images import check_writable, load_image

HELP = "colorize a black-and-white photo, keeping its luminance"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="the photo")
    parser.add_argument("-o", "--output", type=Path, required=True, help="image to write")
    parser.add_argument("--model", help="colorize pack name (default: the installed one)")
    add_single_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from engine.pipelines.colorize import ColorizeOptions, colorize_photo

    check_outputs([args.input], [args.output])
    check_writable(args.output, args.overwrite)
    photo = load_image(args.input)
    progress = ConsoleProgress(quiet=args.quiet)
    options = ColorizeOptions(model=args.model, device=args.device)
    result = colorize_photo(photo.pixels, options, progress.emitter())
    progress.done()
    save_single_output(args, result.images["colorized"], photo.meta, photo.alpha)
    width, height = result.info["working_size"]
    print(
        f"wrote {args.output} with {result.info['model']} (colour at {width}x{height}) "
        f"on {result.info['device']}"
    )
    return 0

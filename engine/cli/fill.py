"""``heirloom fill IN --mask MASK -o OUT [--model NAME]``: fill a region with LaMa & co.

Fill packs are imported from checkpoints (``heirloom models import big-lama.pth``);
none is bundled. The mask is white (or opaque) where the photo is to be filled and
the same size as the photo; every pixel outside it is written back unchanged, with the
photo's bit depth, alpha and metadata. Problems the user can fix end as one line and
exit code 2, and nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.arguments import add_single_output_arguments, save_single_output
from engine.cli.console import ConsoleProgress
from engine.cli.sketch import region_mask
from engine.files import check_outputs
from engine.images import check_writable, load_image

HELP = "fill a masked region of a photo with an imported inpainting model (LaMa)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="the photo")
    parser.add_argument("--mask", type=Path, required=True, help="white = the region to fill")
    parser.add_argument("-o", "--output", type=Path, required=True, help="image to write")
    parser.add_argument("--model", help="fill pack name (default: the installed one)")
    add_single_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from engine.pipelines.fill import FillOptions, fill_photo

    check_outputs([args.input, args.mask], [args.output])
    check_writable(args.output, args.overwrite)
    photo = load_image(args.input)
    mask = region_mask(args.mask, (photo.height, photo.width))
    progress = ConsoleProgress(quiet=args.quiet)
    result = fill_photo(
        photo.pixels, mask, FillOptions(model=args.model, device=args.device), progress.emitter()
    )
    progress.done()
    save_single_output(args, result.images["filled"], photo.meta, photo.alpha)
    print(
        f"wrote {args.output} ({mask.mean() * 100:.1f}% filled) with {result.info['model']} "
        f"on {result.info['device']}"
    )
    return 0

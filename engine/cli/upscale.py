"""``heirloom upscale IN -o OUT [--model NAME]``: enlarge a photo with an upscale pack.

Upscale packs are imported from checkpoints (``heirloom models import FILE.pth``);
none is bundled. The output keeps the photo's alpha (enlarged smoothly), bit depth,
ICC profile and EXIF; its DPI is multiplied by the scale, so the print size stays
the photo's. Problems the user can fix end as one line and exit code 2, and nothing
is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.arguments import add_single_output_arguments, save_single_output
from engine.cli.console import ConsoleProgress
from engine.files import check_outputs
from engine.images import check_writable, load_image
from engine.limits import TILE

HELP = "enlarge a photo with an imported upscaler (Real-ESRGAN, SwinIR, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="the photo")
    parser.add_argument("-o", "--output", type=Path, required=True, help="image to write")
    parser.add_argument("--model", help="upscale pack name (default: the installed one)")
    parser.add_argument(
        "--tile", type=TILE.parse, help=f"tile size in pixels, {TILE.describe()} (default: memory)"
    )
    add_single_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from engine.pipelines.upscale import (
        UpscaleOptions,
        enlarged_meta,
        upscale_alpha,
        upscale_image,
    )

    check_outputs([args.input], [args.output])
    check_writable(args.output, args.overwrite)
    photo = load_image(args.input)
    options = UpscaleOptions(model=args.model, device=args.device, tile=args.tile)
    progress = ConsoleProgress(quiet=args.quiet)
    result = upscale_image(photo.pixels, options, progress.emitter())
    progress.done()
    out = result.images["upscaled"]
    height, width = out.shape[:2]
    alpha = None if photo.alpha is None else upscale_alpha(photo.alpha, height, width)
    save_single_output(args, out, enlarged_meta(photo.meta, result.info["scale"]), alpha)
    print(
        f"wrote {args.output} ({width}x{height}, x{result.info['scale']}) with "
        f"{result.info['model']} on {result.info['device']}"
    )
    return 0

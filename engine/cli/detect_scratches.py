"""``heirloom detect-scratches``: find scratches and dust, and write the mask."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.cancel import CancelToken
from engine.cli.console import ConsoleProgress
from engine.files import check_outputs
from engine.images import check_writable, load_image, save_image
from engine.limits import THRESHOLD
from engine.pipelines.restore import RestoreOptions, detect_scratches
from engine.runtime import DEVICES

HELP = "find scratches and dust; write the mask"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path)
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="mask PNG (white = damage)"
    )
    parser.add_argument("--threshold", type=THRESHOLD.parse, help="0..1 (default: the model's)")
    parser.add_argument("--prob", type=Path, help="also write the probability map here")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    check_outputs([args.input], [args.output, args.prob])
    check_writable(args.output, args.overwrite)
    if args.prob:
        check_writable(args.prob, args.overwrite)
    photo = load_image(args.input)
    progress = ConsoleProgress(quiet=args.quiet)
    options = RestoreOptions(threshold=args.threshold, device=args.device)
    result = detect_scratches(photo.pixels, options, progress.emitter(), CancelToken())
    progress.done()
    mask = result.images["mask"]
    save_image(args.output, mask.astype(np.float32), overwrite=args.overwrite)
    if args.prob:
        save_image(args.prob, result.images["prob"], bit_depth=16, overwrite=args.overwrite)
    print(
        f"{args.output}: {mask.mean() * 100:.2f}% marked as damage "
        f"({result.info['model']}, threshold {result.info['threshold']}, {result.info['device']})"
    )
    return 0

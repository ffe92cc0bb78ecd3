"""Options several commands share, declared once so their names and help stay alike."""

from __future__ import annotations

import argparse

import numpy as np

from engine.images import ImageMeta, save_image
from engine.limits import QUALITY
from engine.runtime import DEVICES


def add_single_output_arguments(parser: argparse.ArgumentParser) -> None:
    """--device, --bit-depth, --quality, --overwrite and -q of a command that reads one
    photo and writes one image (colorize, fill, upscale)."""
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="default: the input's")
    parser.add_argument("--quality", type=QUALITY.parse, default=95, help="JPEG/WebP quality")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def save_single_output(
    args: argparse.Namespace, pixels: np.ndarray, meta: ImageMeta, alpha: np.ndarray | None
) -> None:
    """Write ``pixels`` to ``args.output`` as the options of
    :func:`add_single_output_arguments` ask (bit depth, quality, overwrite)."""
    save_image(
        args.output,
        pixels,
        meta=meta,
        alpha=alpha,
        bit_depth=args.bit_depth,
        quality=args.quality,
        overwrite=args.overwrite,
    )

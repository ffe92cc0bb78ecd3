"""Write the demo "old photo" samples to resources/samples/ from held-out corpus photos.

``python -m training.data.make_samples [--cache DIR] [--out DIR]`` writes, per sample,
``old_<name>.jpg`` (degraded, JPEG q92), ``old_<name>_mask.png`` (the true local-damage
mask, 1-bit, white = damaged) and ``clean_<name>.jpg`` (the clean target, same size).
Each sample has a fixed recipe and seed, so the files are reproducible.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from training.data import degrade as dg
from training.data.corpus import REPO_ROOT, load_corpus, photo_array

LONG_SIDE = 1024
JPEG_QUALITY = 92
OUT_DIR = REPO_ROOT / "resources" / "samples"

Step = tuple[Callable[..., object], dict[str, object]]


@dataclass(frozen=True)
class Recipe:
    """How one held-out photo is aged: local damage first, then print ageing, then scan."""

    name: str
    seed: int
    steps: tuple[Step, ...]


_FEW_SCRATCHES = {"long": (0.6, 1.2), "short": (0.15, 0.4)}
_FEW_SPECKS = {"specks": (1.5, 4.0), "hairs": (0.05, 0.2)}

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "grace_hopper",
        11,
        (
            (dg.scratches, _FEW_SCRATCHES),
            (dg.dust, _FEW_SPECKS),
            (dg.grayscale, {}),
            (dg.sepia, {"amount": (0.7, 0.8)}),
            (dg.fade, {"amount": (0.25, 0.3)}),
            (dg.film_grain, {"sigma": (0.025, 0.03)}),
            (dg.gaussian_blur, {"sigma": (0.8, 0.9)}),
        ),
    ),
    Recipe(
        "ColdRipple",
        12,
        (
            (dg.scratches, _FEW_SCRATCHES),
            (dg.blotches, {"count": (0.08, 0.12), "radius": (0.03, 0.06)}),
            (dg.dust, _FEW_SPECKS),
            (dg.grayscale, {}),
            (dg.contrast_loss, {"amount": (0.2, 0.25)}),
            (dg.paper_texture, {"amount": (0.05, 0.06)}),
            (dg.film_grain, {"sigma": (0.02, 0.025)}),
        ),
    ),
    Recipe(
        "EveningGlow",
        13,
        (
            (dg.scratches, _FEW_SCRATCHES),
            (dg.dust, _FEW_SPECKS),
            (dg.colour_cast, {"shift": (0.08, 0.1)}),
            (dg.fade, {"amount": (0.3, 0.35)}),
            (dg.downscale_upscale, {"factor": (2.0, 2.2)}),
            (dg.gaussian_noise, {"sigma": (0.015, 0.02)}),
        ),
    ),
    Recipe(
        "LadyBird",
        14,
        (
            (dg.scratches, _FEW_SCRATCHES),
            (dg.blotches, {"count": (0.05, 0.08), "radius": (0.02, 0.05)}),
            (dg.dust, _FEW_SPECKS),
            (dg.contrast_loss, {"amount": (0.25, 0.3)}),
            (dg.colour_cast, {"shift": (0.1, 0.12)}),
            (dg.gaussian_blur, {"sigma": (1.0, 1.1)}),
            (dg.jpeg, {"quality": (55, 60)}),
        ),
    ),
)


def age(image: np.ndarray, recipe: Recipe) -> dg.Degraded:
    """Apply ``recipe`` to a float32 HxWx3 image; returns the image, damage mask and ops."""
    rng = np.random.default_rng(recipe.seed)
    out, mask, ops = image, np.zeros(image.shape[:2], np.float32), []
    for fn, kwargs in recipe.steps:
        result = fn(out, rng, **kwargs)
        if isinstance(result, tuple):
            out, m = result
            mask = np.maximum(mask, m)
        else:
            out = result
        ops.append(fn.__name__)
    return dg.Degraded(out, mask, ops)


def _resize(photo: np.ndarray, long_side: int) -> np.ndarray:
    """Shrink (never enlarge) so the long side is at most ``long_side`` px."""
    f = long_side / max(photo.shape[:2])
    if f >= 1:
        return photo
    size = (round(photo.shape[1] * f), round(photo.shape[0] * f))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)


def _to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


def make_samples(cache: Path | None = None, out: Path = OUT_DIR) -> list[Path]:
    """Write all samples into ``out``; returns the written paths."""
    corpus = load_corpus(cache)
    heldout = {p.stem for p in corpus.heldout}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for recipe in RECIPES:
        if recipe.name not in heldout:
            raise ValueError(f"{recipe.name} is not a held-out corpus photo")
        clean = _resize(photo_array(corpus.path(recipe.name)), LONG_SIDE)
        aged = age(clean.astype(np.float32) / 255.0, recipe)
        paths = (
            out / f"old_{recipe.name}.jpg",
            out / f"old_{recipe.name}_mask.png",
            out / f"clean_{recipe.name}.jpg",
        )
        _to_pil(aged.image).save(paths[0], quality=JPEG_QUALITY, optimize=True)
        Image.fromarray(aged.mask > 0.5).save(paths[1], optimize=True)
        Image.fromarray(clean).save(paths[2], quality=JPEG_QUALITY, optimize=True)
        written += paths
        print(
            f"{recipe.name}: {clean.shape[1]}x{clean.shape[0]}, damage "
            f"{aged.mask.mean():.2%}, ops {', '.join(aged.ops)}"
        )
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(
        prog="python -m training.data.make_samples", description=__doc__
    )
    parser.add_argument("--cache", type=Path, default=None, help="corpus cache folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in make_samples(args.cache, args.out):
        print(f"  {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()

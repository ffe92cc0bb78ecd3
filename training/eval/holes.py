"""Brush-hole inpainting cases on the bundled held-out photos (no corpus, no torch).

The holes follow the DDPM card's protocol (:func:`model_brush_mask`): random
brush strokes 8-24 px wide, 1-3 segments each, added until 5-15 % of the picture is
covered. The photos are the clean targets in ``resources/samples`` (held-out photos
for every bundled pack, see its README); crops are fixed by the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine import arrays
from engine.images import load_image

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@dataclass(frozen=True)
class HoleCase:
    truth: np.ndarray  # HxWx3 float32 in [0, 1]
    hole: np.ndarray  # HxW bool
    name: str = ""

    @property
    def damaged(self) -> np.ndarray:
        image = self.truth.copy()
        image[self.hole] = 0.5
        return image


def brush_mask(
    height: int, width: int, rng: np.random.Generator, widths: tuple[float, float] = (8, 24)
) -> np.ndarray:
    """Random brush strokes ``widths`` px wide over 5-15 % of the area (the card's holes)."""
    target = rng.uniform(0.05, 0.15)
    mask = np.zeros((height, width), np.uint8)
    while mask.mean() < target:
        trial = mask.copy()
        thickness = max(1, round(rng.uniform(*widths)))
        point = rng.uniform((0, 0), (width, height))
        for _ in range(int(rng.integers(1, 4))):
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.15, 0.5) * min(height, width)
            end = point + length * np.array([math.cos(angle), math.sin(angle)])
            cv2.line(trial, tuple(map(int, point)), tuple(map(int, end)), 1, thickness)
            point = end
        if trial.mean() <= 0.15:
            mask = trial
    return mask.astype(bool)


def model_brush_mask(height: int, width: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """Random brush strokes 8-24 px wide (scaled to the model size) over 5-15% of the area:
    the bench's holes at the scale of a ``size`` px model, so the DDPM card and
    ``make bench`` measure the same kind of damage."""
    scale = size / 64
    return brush_mask(height, width, rng, (8 * scale, 24 * scale))


def held_out_photos() -> list[tuple[str, np.ndarray]]:
    photos = []
    for path in sorted(SAMPLES.glob("clean_*.jpg")):
        pixels = arrays.rgb(load_image(path).pixels)
        photos.append((path.stem.removeprefix("clean_"), pixels.astype(np.float32)))
    return photos


def photo_cases(count: int, height: int, width: int, seed: int) -> list[HoleCase]:
    """``count`` crops of ``height`` x ``width`` from the held-out photos (each photo
    scaled up first when it is smaller), each with its own brush holes."""
    rng = np.random.default_rng(seed)
    photos = held_out_photos()
    cases = []
    for i in range(count):
        name, photo = photos[i % len(photos)]
        scale = max(height / photo.shape[0], width / photo.shape[1], 1.0)
        if scale > 1.0:
            size = (math.ceil(photo.shape[1] * scale), math.ceil(photo.shape[0] * scale))
            photo = arrays.resize(photo, *size)
        y = int(rng.integers(0, photo.shape[0] - height + 1))
        x = int(rng.integers(0, photo.shape[1] - width + 1))
        crop = np.ascontiguousarray(photo[y : y + height, x : x + width])
        cases.append(HoleCase(crop, brush_mask(height, width, rng), f"{name}@{x},{y}"))
    return cases


def opencv_fill(case: HoleCase, method: int = cv2.INPAINT_TELEA) -> np.ndarray:
    """OpenCV's inpainting (Telea by default), radius 3, on the 8-bit photo: the
    classical baseline of the cards and the bench."""
    image = (case.truth * 255 + 0.5).astype(np.uint8)
    filled = cv2.inpaint(image, case.hole.astype(np.uint8), 3, method)
    return filled.astype(np.float32) / 255

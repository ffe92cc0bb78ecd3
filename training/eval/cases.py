"""Fixed evaluation cases: the same degraded crops every time a model is measured.

``heldout_cases`` come from the held-out photos only (model cards, benchmarks);
``tuning_cases`` from training photos (choosing thresholds and baseline parameters,
so the held-out split is never used to tune anything); ``validation_cases`` from the
validation photos, for settings that must be chosen on photos the model never saw.
``hole_cases`` are brush-stroke holes in crops of any of those photo lists (the DDPM
card's protocol; :mod:`training.eval.holes` has the bench's, on the bundled samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import arrays
from training.data.corpus import Corpus, photo_array
from training.data.degrade import degrade
from training.data.distractors import add_distractors
from training.data.patches import PatchSampler
from training.eval.holes import HoleCase, model_brush_mask


@dataclass(frozen=True)
class Case:
    clean: np.ndarray  # HxWx3 float32 in [0, 1]
    degraded: np.ndarray  # HxWx3
    mask: np.ndarray  # HxW bool, the true local damage
    ops: tuple[str, ...]

    @property
    def target(self) -> np.ndarray:
        """What a restoration should give back: grayscale prints stay grayscale."""
        if "grayscale" in self.ops:
            gray = arrays.luma(self.clean)
            return np.repeat(gray[..., None], 3, axis=2)
        return self.clean


def make_cases(
    paths: list, count: int, size: int, seed: int, damage: bool | None, distract: float = 0.0
) -> list[Case]:
    """``distract``: share of crops whose clean photo gets thin non-damage structures
    (training/data/distractors.py), which a detector must leave alone."""
    sampler = PatchSampler(paths, size=size, scale=(0.5, 1.0), seed=seed)
    rng = np.random.default_rng(seed + 1)
    cases = []
    for _ in range(count):
        clean = sampler.sample()
        if distract and rng.random() < distract:
            clean = add_distractors(clean, rng, int(rng.integers(1, 3)))
        d = degrade(clean, rng, damage=damage)
        cases.append(Case(clean, d.image, d.mask > 0.5, tuple(d.ops)))
    return cases


def heldout_cases(
    corpus: Corpus, count: int = 48, size: int = 256, distract: float = 0.0
) -> list[Case]:
    return make_cases(list(corpus.heldout), count, size, 20261128, True, distract)


def tuning_cases(
    corpus: Corpus, count: int = 32, size: int = 256, distract: float = 0.0
) -> list[Case]:
    return make_cases(list(corpus.train), count, size, 777, True, distract)


def validation_cases(
    corpus: Corpus, count: int = 32, size: int = 256, distract: float = 0.0
) -> list[Case]:
    return make_cases(list(corpus.validation), count, size, 778, True, distract)


def hole_cases(paths: list[Path], count: int, size: int, seed: int = 20261128) -> list[HoleCase]:
    """Held-out crops of ``size``..``2 size`` native px with brush-stroke holes; fixed per seed."""
    rng = np.random.default_rng(seed)
    photos = [photo_array(p) for p in paths]
    photos = [p for p in photos if min(p.shape[:2]) >= 2 * size]
    cases = []
    for _ in range(count):
        side = int(rng.integers(size, 2 * size + 1))
        photo = photos[int(rng.integers(len(photos)))]
        y = int(rng.integers(0, photo.shape[0] - side + 1))
        x = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = photo[y : y + side, x : x + side].astype(np.float32) / 255
        cases.append(HoleCase(crop, model_brush_mask(side, side, rng, size)))
    return cases

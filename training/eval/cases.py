"""Fixed evaluation cases: the same degraded crops every time a model is measured.

``heldout_cases`` come from the held-out photos only (model cards, benchmarks);
``tuning_cases`` from training photos (choosing thresholds and baseline parameters,
so the held-out split is never used to tune anything); ``validation_cases`` from the
validation photos, for settings that must be chosen on photos the model never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import arrays
from training.data.corpus import Corpus
from training.data.degrade import degrade
from training.data.distractors import add_distractors
from training.data.patches import PatchSampler


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

"""Random training patches from a few photos held decoded in memory.

``PatchSampler`` crops a random square, shrinks it by a random scale (so one photo gives
many distinct views), and flips it; ``DegradedPatches`` wraps it as a torch
IterableDataset that yields (degraded, clean, mask) triples from ``degrade``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from training.data.corpus import photo_array
from training.data.degrade import degrade


class PatchSampler:
    """Endless random ``size`` x ``size`` RGB patches, float32 in [0, 1].

    Each patch is a crop of ``size / s`` px, resized to ``size`` (INTER_AREA), where the
    down-scale ``s`` is drawn uniformly from ``scale`` (1.0 = native pixels; clamped so the
    crop fits the photo). Photos are drawn with probability proportional to their area.
    Photos smaller than ``size`` on a side are enlarged to fit. Reproducible per ``seed``.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        size: int = 256,
        scale: tuple[float, float] = (0.5, 1.0),
        flip: bool = True,
        seed: int = 0,
    ) -> None:
        if not paths:
            raise ValueError("PatchSampler needs at least one photo")
        if not 0 < scale[0] <= scale[1] <= 1.0:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        self.size = size
        self.scale = scale
        self.flip = flip
        self.photos = [self._fit(photo_array(Path(p))) for p in paths]
        areas = np.array([p.shape[0] * p.shape[1] for p in self.photos], np.float64)
        self.weights = areas / areas.sum()
        self.rng = np.random.default_rng(seed)

    def _fit(self, photo: np.ndarray) -> np.ndarray:
        short = min(photo.shape[:2])
        if short >= self.size:
            return photo
        f = self.size / short
        w, h = max(self.size, round(photo.shape[1] * f)), max(self.size, round(photo.shape[0] * f))
        return cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC)

    def sample(self) -> np.ndarray:
        """One random patch, float32 size x size x 3 in [0, 1]."""
        rng = self.rng
        photo = self.photos[int(rng.choice(len(self.photos), p=self.weights))]
        h, w = photo.shape[:2]
        low = max(self.scale[0], self.size / min(h, w))
        s = float(rng.uniform(low, max(low, self.scale[1])))
        crop = min(min(h, w), round(self.size / s))
        y = int(rng.integers(0, h - crop + 1))
        x = int(rng.integers(0, w - crop + 1))
        patch = photo[y : y + crop, x : x + crop]
        if crop != self.size:
            patch = cv2.resize(patch, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if self.flip and rng.random() < 0.5:
            patch = patch[:, ::-1]
        return np.ascontiguousarray(patch, dtype=np.float32) / np.float32(255.0)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.sample()


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


class DegradedPatches(IterableDataset):
    """Endless (degraded, clean, mask) tensors for restoration / scratch-detection training.

    Yields dicts: ``degraded`` and ``clean`` float32 3xHxW in [0, 1], ``mask`` float32
    1xHxW in {0, 1}. ``damage`` and ``strength`` go to ``degrade``. Each DataLoader worker
    gets its own seed (``seed + worker id``), so workers do not repeat each other.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        size: int = 256,
        scale: tuple[float, float] = (0.5, 1.0),
        seed: int = 0,
        strength: float = 1.0,
        damage: bool | None = None,
    ) -> None:
        super().__init__()
        self.paths, self.size, self.scale = list(paths), size, scale
        self.seed, self.strength, self.damage = seed, strength, damage

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        seed = self.seed + (info.id if info is not None else 0)
        sampler = PatchSampler(self.paths, self.size, self.scale, seed=seed)
        rng = np.random.default_rng(seed + 10_000)
        for clean in sampler:
            d = degrade(clean, rng, strength=self.strength, damage=self.damage)
            yield {"degraded": _chw(d.image), "clean": _chw(clean), "mask": _chw(d.mask[..., None])}

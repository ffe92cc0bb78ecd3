"""Batches made in worker processes, moved to the device, reused in other orientations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.data import batches

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _crops(sampler, rng, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch maker as the trainers write them: crops and one random number per crop."""
    crops = np.stack([sampler.sample() for _ in range(size)])
    return torch.from_numpy(crops).permute(0, 3, 1, 2), torch.from_numpy(rng.random(size))


@pytest.mark.parametrize("workers", [0, 2])
def test_batch_stream_makes_distinct_batches_in_worker_processes(workers: int) -> None:
    photos = sorted(SAMPLES.glob("clean_*.jpg"))[:2]
    stream = batches.batch_stream(
        _crops, photos, size=32, scale=(0.5, 1.0), batch=3, seed=5, workers=workers
    )
    made = [next(stream) for _ in range(4)]
    for crops, numbers in made:
        assert crops.shape == (3, 3, 32, 32) and crops.dtype == torch.float32
        assert numbers.shape == (3,)
    assert float(made[0][0].min()) >= 0.0 and float(made[0][0].max()) <= 1.0
    # every batch new: workers are seeded apart, and no crop repeats
    numbers = torch.cat([b[1] for b in made])
    assert len(set(numbers.tolist())) == 12


def test_dihedral_turns_every_tensor_the_same_way_in_eight_distinct_ways() -> None:
    a = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    b = a * 10
    turned = [batches.dihedral((a, b), k) for k in range(8)]
    assert torch.equal(turned[0][0], a)
    for ta, tb in turned:
        assert torch.equal(tb, ta * 10)  # the same transform on both
    assert len({tuple(t[0].flatten().tolist()) for t in turned}) == 8


def test_device_batches_reuse_each_batch_in_other_orientations() -> None:
    source = [(torch.rand(2, 1, 8, 8),), (torch.rand(2, 1, 8, 8),)]
    out = list(batches.device_batches(iter(source), "cpu", reuse=3))
    assert len(out) == 6
    assert torch.equal(out[0][0], source[0][0]) and torch.equal(out[3][0], source[1][0])
    for again in out[1:3]:
        assert not torch.equal(again[0], source[0][0])
        assert torch.equal(again[0].flatten().sort().values, source[0][0].flatten().sort().values)

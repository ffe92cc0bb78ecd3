"""Training batches made in worker processes and moved to the training device.

A trainer hands :func:`batch_stream` a module-level ``make(sampler, rng, size)`` that
builds one batch from random crops (degradation, pre-pass...); with workers, that runs in
other processes, which is what lets a GPU train faster than one core ages photos.
:func:`device_batches` moves batches to the device and can use each one again in another
orientation when making them is the bottleneck.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from training.data.patches import PatchSampler

MakeBatch = Callable[[PatchSampler, np.random.Generator, int], tuple[torch.Tensor, ...]]


class _Batches(IterableDataset):
    """Endless batches from ``make`` (a module-level function, so workers can pickle it)."""

    def __init__(
        self, make: MakeBatch, paths: list[Path], size: int, scale: tuple[float, float],
        batch: int, seed: int,
    ) -> None:  # fmt: skip
        super().__init__()
        self.make, self.paths, self.size, self.scale = make, paths, size, scale
        self.batch, self.seed = batch, seed

    def __iter__(self):
        info = get_worker_info()
        seed = self.seed + 7919 * (info.id if info is not None else 0)
        if info is not None:
            cv2.setNumThreads(1)  # one core per worker: the workers are the parallelism
            torch.set_num_threads(1)
        sampler = PatchSampler(self.paths, size=self.size, scale=self.scale, seed=seed)
        rng = np.random.default_rng(seed + 1)
        while True:
            yield self.make(sampler, rng, self.batch)


def batch_stream(
    make: MakeBatch,
    paths: list[Path],
    *,
    size: int,
    scale: tuple[float, float],
    batch: int,
    seed: int,
    workers: int = 0,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless training batches of random crops of ``paths``, made by ``make``.

    With ``workers`` > 0 they are made in that many processes (a GPU trains faster than
    one core degrades photos); each worker draws its own crops. Seeded by ``seed`` (the
    run's step, so a resumed run does not replay the crops it began with).
    """
    dataset = _Batches(make, paths, size, scale, batch, seed)
    if workers == 0:
        return iter(dataset)
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4,
        # fresh interpreters: a fork inherits thread pools (OpenMP, OpenCV) whose locks
        # another thread may hold, and the worker hangs at its first parallel call
        multiprocessing_context="spawn",
    )
    return iter(loader)


def trainer_batches(
    make: MakeBatch,
    paths: list[Path],
    args: argparse.Namespace,
    seed: int,
    scale: tuple[float, float] = (0.35, 1.0),
) -> Iterator[tuple[torch.Tensor, ...]]:
    """:func:`batch_stream` on ``args.device`` as :func:`trainer_arguments` configure it.
    Call it before moving the net to the device: its workers start now and never use it."""
    stream = batch_stream(
        make, paths, size=args.size, scale=scale, batch=args.batch, seed=seed,
        workers=args.workers,
    )  # fmt: skip
    return device_batches(stream, args.device, args.reuse)


def dihedral(tensors: tuple[torch.Tensor, ...], k: int) -> tuple[torch.Tensor, ...]:
    """The ``k``-th of the 8 flips/transposes of every NCHW tensor (0 = unchanged)."""
    out = []
    for t in tensors:
        if k & 1:
            t = t.flip(-1)
        if k & 2:
            t = t.flip(-2)
        if k & 4:
            t = t.transpose(-1, -2)
        out.append(t)
    return tuple(out)


def device_batches(
    stream: Iterator[tuple[torch.Tensor, ...]], device: str, reuse: int = 1
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches moved to ``device``; each is used ``reuse`` times, in different orientations
    (the restorers have no notion of up or left), when making them is the bottleneck."""
    rng = np.random.default_rng(0)
    for tensors in stream:
        moved = tuple(t.to(device, non_blocking=True) for t in tensors)
        yield moved
        for k in rng.choice(np.arange(1, 8), size=reuse - 1, replace=False):
            yield dihedral(moved, int(k))

"""The restorer refines the classical pre-pass: before any training it *is* the
pre-pass, and its exported graph runs in the engine with the pre-pass fed per tile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.images import load_image
from engine.ops.prepass import fill_and_denoise
from training.train_restore import Restorer, make_net

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "old_EveningGlow.jpg"


def test_an_untrained_restorer_returns_the_classical_prepass_exactly() -> None:
    photo = load_image(SAMPLE).pixels[:96, :128].copy()
    mask = np.zeros(photo.shape[:2], bool)
    mask[40:44, 10:120] = True
    prepass = fill_and_denoise(photo, mask)
    model = Restorer(make_net()).eval()
    with torch.no_grad():
        out = model(
            torch.from_numpy(photo).permute(2, 0, 1)[None],
            torch.from_numpy(mask.astype(np.float32))[None, None],
            torch.from_numpy(prepass).permute(2, 0, 1)[None],
        )[0].permute(1, 2, 0)
    assert np.abs(out.numpy() - prepass).max() < 1e-6  # zero head: training starts here
    assert np.abs(prepass - photo)[~mask].mean() > 1e-3  # and the pre-pass did denoise

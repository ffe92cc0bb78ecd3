"""The colorizer's graph only chooses colour: its output keeps the gray it was given,
the chroma it learns from is exactly the photo's (a lossless split of RGB), and its bin
targets and rarity weights say what the loss means them to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine import arrays
from engine.images import load_image
from training.train_colorize import (
    BINS,
    Colorizer,
    bin_centres,
    loss_fn,
    make_net,
    nearest_bin,
    rarity_weights,
    soft_targets,
    to_chroma,
    to_rgb,
)

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "clean_LadyBird.jpg"


def _photo() -> torch.Tensor:
    pixels = arrays.rgb(load_image(SAMPLE).pixels)[:64, :96].copy()
    return torch.from_numpy(pixels).permute(2, 0, 1)[None]


def test_gray_and_chroma_give_the_photo_back() -> None:
    rgb = _photo()
    gray, chroma = to_chroma(rgb)
    assert torch.abs(to_rgb(gray, chroma) - rgb).max() < 1e-5
    assert float(chroma.abs().mean()) > 0.01  # a colour photo has chroma to learn


def test_the_graph_keeps_the_luminance_it_was_given() -> None:
    torch.manual_seed(0)
    model = Colorizer(make_net()).eval()
    gray, _ = to_chroma(_photo())
    with torch.no_grad():
        out = model(gray)
    unclipped = ((out > 1e-4) & (out < 1 - 1e-4)).all(1, keepdim=True)
    luma = (out * torch.tensor(arrays.LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert bool(unclipped.float().mean() > 0.5)
    assert torch.abs(luma - gray)[unclipped].max() < 1e-5


def _photos() -> list:
    pixels = arrays.rgb(load_image(SAMPLE).pixels)
    return [pixels[y : y + 64, x : x + 64].copy() for y in (0, 100, 200) for x in (0, 150, 300)]


def test_soft_targets_decode_back_to_the_true_chroma() -> None:
    _, chroma = to_chroma(_photo())
    targets = soft_targets(chroma)
    assert torch.allclose(targets.sum(1), torch.ones(1), atol=1e-5)
    decoded = torch.einsum("nqhw,qc->nchw", targets, bin_centres())
    assert float((decoded - chroma.clamp(-0.35, 0.35)).abs().max()) < 0.01


def test_rare_colours_weigh_more_and_an_average_pixel_weighs_one() -> None:
    photos = _photos()
    weights = rarity_weights(photos)
    rgb = torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2)
    used = nearest_bin(to_chroma(rgb)[1]).flatten()
    assert abs(float(weights[used].mean()) - 1) < 1e-3
    gray_bin, corner_bin = BINS // 2, 0
    assert float(weights[corner_bin]) > 2 * float(weights[gray_bin])


def test_a_dull_guess_costs_more_than_a_confident_true_one() -> None:
    rgb = _photo()
    weights = rarity_weights(_photos())
    model = Colorizer(make_net())
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # equal scores everywhere: the mean of the bins, a gray print
    dull = float(loss_fn(model, rgb, weights))

    class Knows(torch.nn.Module):  # scores that are the true colour's targets
        def forward(self, gray: torch.Tensor) -> torch.Tensor:
            return torch.log(soft_targets(to_chroma(rgb)[1]) + 1e-8)

    assert float(loss_fn(Colorizer(Knows()), rgb, weights)) < 0.7 * dull

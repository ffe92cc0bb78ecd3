"""The colorizer's graph only chooses colour: its output keeps the gray it was given,
and the chroma it learns from is exactly the photo's (a lossless split of RGB)."""

from __future__ import annotations

from pathlib import Path

import torch

from engine import arrays
from engine.images import load_image
from training.train_colorize import Colorizer, loss_fn, make_net, to_chroma, to_rgb

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


def test_a_dull_guess_costs_more_than_the_true_colours() -> None:
    rgb = _photo()
    model = Colorizer(make_net())
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # chroma 0: the print stays gray
    assert float(loss_fn(model, rgb)) > 0.01

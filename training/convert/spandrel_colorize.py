"""DDColor as an ONNX graph with the colorize task's contract: gray in, RGB out.

DDColor predicts the Lab a/b channels from a gray image at its working size (256x256
as spandrel builds it). spandrel's descriptor wraps the network in the conversions its
authors' pipeline does (gray -> Lab lightness -> gray RGB -> a/b -> Lab -> RGB); the
graph exports that whole call, so a DDColor pack takes ``gray`` (1x1xSxS in [0, 1]) and
returns ``rgb`` (1x3xSxS in [0, 1]) exactly as our own colorizer does, and the engine
has one colorize path for both (it keeps the photo's luminance and takes only the
colour from the graph, :mod:`engine.pipelines.colorize`).

The graph has a fixed size: the network's queries and position encodings are built for
its working size, and at that size spandrel's own resizing is the identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.export import export_onnx

OPSET = 18


class ColorizeGraph(nn.Module):
    """A gray image at the network's working size -> its colour version (spandrel's call)."""

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        self.model = descriptor.model
        self._descriptor = descriptor

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        return self._descriptor(gray)


def working_size(descriptor: Any) -> tuple[int, int]:
    """The (height, width) the network was built for."""
    height, width = descriptor.model.input_size
    return int(height), int(width)


def wrap_colorizer(descriptor: Any) -> nn.Module:
    """spandrel's descriptor -> the module to export and compare (the table's ``wrap``)."""
    return ColorizeGraph(descriptor)


def export_fixed(module: nn.Module, example: Mapping[str, torch.Tensor], path: Path) -> Path:
    """``torch.onnx.export`` at the example's size, batch 1, nothing dynamic."""
    return export_onnx(module, example, path, dynamic=None, output_names=["rgb"], opset=OPSET)

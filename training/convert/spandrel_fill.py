"""LaMa as an ONNX graph: its Fourier units' FFTs become matrix products.

LaMa's fast Fourier convolutions take ``torch.fft.rfftn`` / ``irfftn`` over height and
width, which the TorchScript exporter does not support (``aten::fft_rfftn``). A 2-D DFT
is two matrix products, so the exported graph multiplies by cosine and sine matrices
built *in the graph* from the feature map's size: it keeps dynamic height and width,
uses only MatMul / Cos / Sin (which every ONNX Runtime provider runs), and costs little,
as the Fourier units work at an eighth of the input size. Angles are reduced modulo
the length in integers before the float conversion, so they stay exact.

The rewrite exists only while exporting: :class:`MatmulFourierUnit` runs spandrel's own
FFT code otherwise, so the parity check compares ONNX Runtime with spandrel's network
as it is, not with the rewrite.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from training.compat import import_spandrel


def _dft_angles(rows: Any, cols: Any, length: Any) -> torch.Tensor:
    """2*pi*(k*n mod length)/length for k < rows, n < cols (float32)."""
    k = torch.arange(rows).unsqueeze(1)
    n = torch.arange(cols).unsqueeze(0)
    return ((k * n) % length).to(torch.float32) * (2.0 * math.pi / length)


def _dft_matrices(length: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the full ``length``-point DFT, orthonormal scaling."""
    angles = _dft_angles(length, length, length)
    scale = _rsqrt(length)
    return torch.cos(angles) * scale, torch.sin(angles) * scale


def rfft2(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")`` as (real, imaginary) parts."""
    height, width = x.shape[-2], x.shape[-1]
    half = width // 2 + 1
    angles = _dft_angles(width, half, width)
    scale = _rsqrt(width)
    a_re = x @ (torch.cos(angles) * scale)
    a_im = -(x @ (torch.sin(angles) * scale))
    cos_h, sin_h = _dft_matrices(height)
    return cos_h @ a_re + sin_h @ a_im, cos_h @ a_im - sin_h @ a_re


def irfft2(re: torch.Tensor, im: torch.Tensor, height: Any, width: Any) -> torch.Tensor:
    """``torch.fft.irfftn(complex(re, im), s=(height, width), dim=(-2, -1),
    norm="ortho")``: the inverse over height, then the Hermitian half-spectrum back to
    ``width`` real samples (bins other than 0 and width/2 count twice)."""
    cos_h, sin_h = _dft_matrices(height)
    b_re = cos_h @ re - sin_h @ im
    b_im = cos_h @ im + sin_h @ re
    half = re.shape[-1]
    k = torch.arange(half)
    weight = torch.where((k == 0) | (2 * k == width), 1.0, 2.0) * _rsqrt(width)
    angles = _dft_angles(half, width, width)
    return b_re @ (torch.cos(angles) * weight.unsqueeze(1)) - b_im @ (
        torch.sin(angles) * weight.unsqueeze(1)
    )


def _rsqrt(length: Any) -> Any:
    """1/sqrt(length) for a Python int, or in the graph for a traced size."""
    return 1.0 / math.sqrt(length) if isinstance(length, int) else torch.rsqrt(length.float())


def _fourier_unit_class() -> type[nn.Module]:
    import_spandrel()  # torchvision first, where its compiled ops do not load
    from spandrel.architectures.LaMa.__arch.LaMa import FourierUnit

    return FourierUnit


def _matmul_forward(unit: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """FourierUnit.forward for LaMa's configuration (no spatial scaling, no spectral
    position encoding, no squeeze-excitation, 2-D), with DFT matrices for the FFTs."""
    batch, channels, height, width = x.shape
    re, im = rfft2(x)
    spectrum = torch.stack((re, im), dim=2).reshape(batch, 2 * channels, height, re.shape[-1])
    spectrum = unit.relu(unit.bn(unit.conv_layer(spectrum)))
    spectrum = spectrum.reshape(batch, -1, 2, height, spectrum.shape[-1])
    return irfft2(spectrum[:, :, 0], spectrum[:, :, 1], height, width)


def _check_plain(unit: nn.Module) -> None:
    if (
        unit.spatial_scale_factor is not None
        or unit.spectral_pos_encoding
        or unit.use_se
        or unit.ffc3d
    ):
        raise ValueError(
            "this LaMa variant uses Fourier-unit options (scaling, position encoding, "
            "squeeze-excitation or 3-D FFT) that the ONNX rewrite does not cover"
        )


class LamaGraph(nn.Module):
    """spandrel's LaMa (image 1x3xHxW and mask 1x1xHxW in [0, 1], mask 1 = fill) ->
    the filled image; while exporting, its Fourier units use :func:`rfft2` / :func:`irfft2`.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model)
        fourier_unit = _fourier_unit_class()
        for unit in self.model.modules():
            if isinstance(unit, fourier_unit):
                _check_plain(unit)
                unit.forward = _exporting_forward(unit, unit.forward)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(image, mask)


def _exporting_forward(unit: nn.Module, original: Any) -> Any:
    def forward(x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return _matmul_forward(unit, x)
        return original(x)

    return forward


def wrap_lama(descriptor: Any) -> nn.Module:
    """spandrel's descriptor -> the module to export (the table's ``wrap``)."""
    return LamaGraph(descriptor.model)

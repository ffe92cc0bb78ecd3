"""BOPBTL face enhancement: the SPADE generator of Setting_9 with official key names.

Mirrors ``Face_Enhancement/models/networks/generator.py`` (``SPADEGenerator``),
``architecture.py`` (``SPADEResnetBlock``) and ``normalization.py`` (``SPADE``) as
``run.py`` starts ``test_face.py`` for ``Setting_9_epoch_100``: load_size 256,
``--no_parsing_map`` (the degraded face itself is the SPADE condition, no parsing
labels), no VAE, injection_layer "all", num_upsampling_layers "normal", and the
generator's default norm_G "spectralspadesyncbatch3x3": spectral norm on the block
convs, and a parameter-free (synchronised) batch norm inside SPADE whose running
statistics are used because the official test calls ``model.eval()``.

Spectral norm is kept for loading (``weight_orig``/``weight_u``/``weight_v`` keys) and
folded into plain weights by :func:`fold_spectral_norm` before export.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from torch import nn
from torch.nn.utils import remove_spectral_norm, spectral_norm

OFFICIAL_NGF = 64
LOAD_SIZE = 256
_NHIDDEN = 128  # hard-coded in the official SPADE
_UPSAMPLINGS = 5  # num_upsampling_layers "normal"


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class SPADE(nn.Module):
    """Batch-normalise x without affine terms, then modulate it by convs of the face."""

    def __init__(self, norm_nc: int) -> None:
        super().__init__()
        self.param_free_norm = nn.BatchNorm2d(norm_nc, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(3, _NHIDDEN, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(_NHIDDEN, norm_nc, 3, padding=1)
        self.mlp_beta = nn.Conv2d(_NHIDDEN, norm_nc, 3, padding=1)

    def forward(self, x: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        face = F.interpolate(face, size=x.shape[2:], mode="bilinear", align_corners=False)
        actv = self.mlp_shared(face)
        return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    """Pre-activation residual block with SPADE norms and a learned 1x1 shortcut when
    the channel count changes."""

    def __init__(self, fin: int, fout: int) -> None:
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = spectral_norm(nn.Conv2d(fin, fmiddle, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(fmiddle, fout, 3, padding=1))
        if self.learned_shortcut:
            self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))
            self.norm_s = SPADE(fin)
        self.norm_0 = SPADE(fin)
        self.norm_1 = SPADE(fmiddle)

    def forward(self, x: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        skip = self.conv_s(self.norm_s(x, face)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, face), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, face), 0.2))
        return skip + dx


class SPADEGenerator(nn.Module):
    """Degraded aligned face in [-1, 1] (N, 3, 256, 256) -> enhanced face in [-1, 1]."""

    def __init__(self, ngf: int = OFFICIAL_NGF, load_size: int = LOAD_SIZE) -> None:
        super().__init__()
        nf = ngf
        self.latent = load_size // 2**_UPSAMPLINGS
        self.fc = nn.Conv2d(3, 16 * nf, 3, padding=1)
        self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf)
        self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf)  # noqa: N815 - official key
        self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf)  # noqa: N815
        self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf)
        self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf)
        self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf)
        self.up_3 = SPADEResnetBlock(2 * nf, nf)
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        size = (self.latent, self.latent)
        x = self.fc(F.interpolate(face, size=size, mode="bilinear", align_corners=False))
        x = self.head_0(x, face)
        x = self.G_middle_0(_up(x), face)
        x = self.G_middle_1(x, face)  # "normal": no upsampling between the middle blocks
        for block in (self.up_0, self.up_1, self.up_2, self.up_3):
            x = block(_up(x), face)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


def fold_spectral_norm(net: nn.Module) -> nn.Module:
    """Replace every spectral-normed weight by its eval-time value W / sigma(u, v).

    In eval mode spectral norm does no power iteration, so the folded net computes
    the same function with plain convolutions (a graph without the norm's ops).
    """
    for module in net.modules():
        hooks = [h for h in module._forward_pre_hooks.values() if hasattr(h, "n_power_iterations")]
        for hook in hooks:
            remove_spectral_norm(module, hook.name)
    return net


def face_config(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """``ngf`` read from a checkpoint's shapes (the last conv's input channels)."""
    conv = state.get("conv_img.weight")
    return {"ngf": int(conv.shape[1]) if conv is not None else OFFICIAL_NGF}

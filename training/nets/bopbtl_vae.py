"""BOPBTL's VAEs (``GlobalGenerator_DCDCv2``) with official key names.

Mirrors ``Global/models/networks.py`` (``GlobalGenerator_DCDCv2``, ``ResnetBlock``)
as ``Global/test.py`` (``parameter_set``) builds it for VAE_A_quality, VAE_B_quality and
VAE_B_scratch: ngf=64, mc=64, k_size=4, n_downsample_global=3, start_r=1, instance norm
without affine parameters, reflection padding, spatio_size=64, feat_dim=-1 and no
segmentation head. Only those two last options are fixed here; the others are
parameters with the official values as defaults. The encoder halves the size
``n_downsampling - 1`` times (4x for the released nets), so sizes are multiples of 4.
"""

from __future__ import annotations

import torch
from torch import nn

OFFICIAL = {"ngf": 64, "mc": 64, "k_size": 4, "n_downsampling": 3, "start_r": 1}


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False)


class ResnetBlock(nn.Module):
    """x + (pad, 3x3 conv, IN, ReLU, pad, 3x3 conv, IN): ``conv_block.1`` / ``.5`` weights."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3),
            _norm(dim),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3),
            _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _down(cin: int, cout: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=k, stride=2, padding=1), _norm(cout), nn.ReLU()]


def _up(cin: int, cout: int, k: int) -> list[nn.Module]:
    out_pad = 0 if k == 4 else 1
    return [
        nn.ConvTranspose2d(cin, cout, k, stride=2, padding=1, output_padding=out_pad),
        _norm(cout),
        nn.ReLU(),
    ]


class GlobalGeneratorDCDCv2(nn.Module):
    """Encoder (image -> latent) and decoder (latent -> image in [-1, 1]) of one VAE."""

    def __init__(
        self,
        ngf: int = 64,
        mc: int = 64,
        k_size: int = 4,
        n_downsampling: int = 3,
        start_r: int = 1,
        input_nc: int = 3,
        output_nc: int = 3,
    ) -> None:
        super().__init__()

        def ch(mult: float) -> int:
            return min(int(ngf * mult), mc)

        enc: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ch(1), kernel_size=7),
            _norm(ngf),
            nn.ReLU(),
        ]
        for i in range(start_r):
            enc += _down(ch(2**i), ch(2 ** (i + 1)), k_size)
        for i in range(start_r, n_downsampling - 1):
            enc += _down(ch(2**i), ch(2 ** (i + 1)), k_size)
            enc += [ResnetBlock(ch(2 ** (i + 1))), ResnetBlock(ch(2 ** (i + 1)))]
        top = ch(2**n_downsampling)
        enc += [ResnetBlock(top), ResnetBlock(top)]  # spatio_size == 64: two blocks
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [ResnetBlock(top), ResnetBlock(top)]
        for i in range(1, n_downsampling - start_r):
            mult = 2 ** (n_downsampling - i)
            dec += [ResnetBlock(ch(mult)), ResnetBlock(ch(mult))]
            dec += _up(ch(mult), ch(mult / 2), k_size)
        for i in range(n_downsampling - start_r, n_downsampling):
            mult = 2 ** (n_downsampling - i)
            dec += _up(ch(mult), ch(mult / 2), k_size)
        dec += [nn.ReflectionPad2d(3), nn.Conv2d(ch(1), output_nc, kernel_size=7), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor, flow: str = "enc_dec") -> torch.Tensor:
        if flow == "enc":
            return self.encoder(x)
        if flow == "dec":
            return self.decoder(x)
        if flow == "enc_dec":
            return self.decoder(self.encoder(x))
        raise ValueError(f"flow must be 'enc', 'dec' or 'enc_dec', not {flow!r}")

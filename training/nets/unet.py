"""A small U-Net for our own bundled CPU models (scratch detection, restoration).

No normalisation layers on purpose: per-image statistics (instance norm) make tiled
inference disagree with whole-image inference, and batch norm at batch size 1 is
fragile. Downsampling is a blur then a stride-2 conv (anti-aliased, as BOPBTL's
detector), upsampling is nearest + conv, so the graph is shift-equivariant for
shifts by multiples of ``2 ** levels`` and tiles join without seams.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the usual torch alias


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.LeakyReLU(0.2, inplace=True),
    )


class BlurDown(nn.Module):
    """[1 2 1] blur, then a stride-2 conv: downsampling without aliasing."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        kernel = torch.tensor([1.0, 2.0, 1.0])
        kernel = (kernel[:, None] * kernel[None, :]) / 16.0
        self.register_buffer("kernel", kernel.expand(cin, 1, 3, 3).clone())
        self.conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel, groups=x.shape[1])
        return F.leaky_relu(self.conv(x), 0.2)


class UNet(nn.Module):
    """``levels`` downsamplings, channels doubling from ``base`` (capped at 8 * base).

    With ``residual`` the first ``out_ch`` input channels are added to the output:
    the net predicts a correction of the photo, which trains faster and keeps
    undamaged detail exactly where the correction is zero.
    """

    def __init__(
        self, in_ch: int, out_ch: int, base: int = 16, levels: int = 4, residual: bool = False
    ) -> None:
        super().__init__()
        widths = [min(base * 2**i, base * 8) for i in range(levels + 1)]
        self.residual = residual
        self.out_ch = out_ch
        self.stem = _block(in_ch, widths[0])
        self.downs = nn.ModuleList(BlurDown(widths[i], widths[i + 1]) for i in range(levels))
        self.encoders = nn.ModuleList(_block(widths[i + 1], widths[i + 1]) for i in range(levels))
        self.ups = nn.ModuleList(
            nn.Conv2d(widths[i + 1], widths[i], 3, padding=1) for i in reversed(range(levels))
        )
        self.decoders = nn.ModuleList(
            _block(2 * widths[i], widths[i]) for i in reversed(range(levels))
        )
        self.head = nn.Conv2d(widths[0], out_ch, 1)
        self.multiple_of = 2**levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        h = skips[0]
        for down, enc in zip(self.downs, self.encoders, strict=True):
            h = enc(down(h))
            skips.append(h)
        skips.pop()
        for up, dec in zip(self.ups, self.decoders, strict=True):
            h = F.leaky_relu(up(F.interpolate(h, scale_factor=2.0, mode="nearest")), 0.2)
            h = dec(torch.cat([h, skips.pop()], dim=1))
        out = self.head(h)
        if self.residual:
            out = out + x[:, : self.out_ch]
        return out

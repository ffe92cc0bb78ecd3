"""BOPBTL scratch detection: the UNet of Global/detection.py with official key names.

Mirrors ``Global/detection_models/networks.py`` (``UNet``, ``UNetConvBlock``,
``UNetUpBlock``) and ``Global/detection_models/antialiasing.py`` (``Downsample``) in the
configuration ``Global/detection.py`` builds: 1 channel in and out, depth 4, two convs
per level, reflection padding, batch norm, bilinear upsampling + conv, and blurred
(antialiased) stride-2 downsampling. ``wf`` and ``depth`` stay parameters only so
tests can build small nets; the released checkpoint uses wf=6, depth=4.

The net returns logits; ``detection.py`` applies a sigmoid and thresholds at 0.4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from torch import nn

OFFICIAL_WF = 6
OFFICIAL_DEPTH = 4


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class Downsample(nn.Module):
    """Blur with the 3x3 binomial filter, then take every second pixel.

    The filter is a buffer named ``filt`` because the official checkpoint stores it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = taps[:, None] * taps[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("filt", kernel[None, None].repeat(channels, 1, 1, 1))
        self.pad = nn.ReflectionPad2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class UNetConvBlock(nn.Module):
    """``conv_num`` x (reflection pad, 3x3 conv, batch norm, leaky ReLU)."""

    def __init__(self, conv_num: int, in_size: int, out_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(conv_num):
            layers += [
                nn.ReflectionPad2d(1),
                nn.Conv2d(in_size, out_size, kernel_size=3),
                nn.BatchNorm2d(out_size),
                _act(),
            ]
            in_size = out_size
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class UNetUpBlock(nn.Module):
    """Bilinear x2, conv, then concatenate the skip and run a conv block."""

    def __init__(self, conv_num: int, in_size: int, out_size: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(mode="bilinear", scale_factor=2, align_corners=False),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_size, out_size, kernel_size=3),
        )
        self.conv_block = UNetConvBlock(conv_num, in_size, out_size)

    def forward(self, x: torch.Tensor, bridge: torch.Tensor) -> torch.Tensor:
        # Sizes are multiples of 2**depth, so the official centre crop is a no-op.
        return self.conv_block(torch.cat([self.up(x), bridge], 1))


class ScratchUNet(nn.Module):
    """The detection UNet; input gray in [-1, 1], output scratch logits (N, 1, H, W).

    H and W must be multiples of ``2**depth`` (16 for the released net).
    """

    def __init__(self, wf: int = OFFICIAL_WF, depth: int = OFFICIAL_DEPTH, conv_num: int = 2):
        super().__init__()
        self.first = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(1, 2**wf, 7), _act())
        self.down_path = nn.ModuleList()
        self.down_sample = nn.ModuleList()
        channels = 2**wf
        for i in range(depth):
            self.down_sample.append(
                nn.Sequential(
                    nn.ReflectionPad2d(1),
                    nn.Conv2d(channels, channels, kernel_size=3),
                    nn.BatchNorm2d(channels),
                    _act(),
                    Downsample(channels),
                )
            )
            self.down_path.append(UNetConvBlock(conv_num, channels, 2 ** (wf + i + 1)))
            channels = 2 ** (wf + i + 1)
        self.up_path = nn.ModuleList()
        for i in reversed(range(depth)):
            self.up_path.append(UNetUpBlock(conv_num, channels, 2 ** (wf + i)))
            channels = 2 ** (wf + i)
        self.last = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, 1, kernel_size=3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        skips = []
        for down, block in zip(self.down_sample, self.down_path, strict=True):
            skips.append(x)
            x = block(down(x))
        for up, skip in zip(self.up_path, reversed(skips), strict=True):
            x = up(x, skip)
        return self.last(x)


class ScratchProbability(nn.Module):
    """The exported graph: the UNet followed by the sigmoid detection.py applies."""

    def __init__(self, unet: ScratchUNet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.unet(image))


def detect_config(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """``wf`` and ``depth`` read from a checkpoint's shapes, so small test nets load too."""
    first = state.get("first.1.weight")
    if first is None:
        return {"wf": OFFICIAL_WF, "depth": OFFICIAL_DEPTH}
    depth = len({k.split(".")[1] for k in state if k.startswith("down_path.")})
    return {"wf": int(first.shape[0]).bit_length() - 1, "depth": depth or OFFICIAL_DEPTH}

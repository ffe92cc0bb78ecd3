"""pix2pix U-Net generator and PatchGAN discriminator with the official state_dict layout.

The module tree mirrors ``UnetGenerator`` / ``UnetSkipConnectionBlock`` /
``NLayerDiscriminator`` and ``get_norm_layer`` in ``models/networks.py`` of
junyanz/pytorch-CycleGAN-and-pix2pix, so official ``latest_net_G.pth`` /
``latest_net_D.pth`` files load with ``strict=True``. Keys therefore look like
``model.model.0.weight`` (outermost down-conv), ``model.model.1.model.1.weight`` (next
down-conv), ``model.model.1.model.2.running_mean`` (its BatchNorm), deeper levels nested
at index 3 (``model.model.1.model.3.model.1.weight``) for G, and ``model.0.weight`` ...
``model.11.weight`` for the 3-layer (70x70) D.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

Norm = Literal["batch", "instance"]
Upsample = Literal["transpose", "resize"]


def make_norm(norm: Norm, channels: int) -> nn.Module:
    """The official norm layers: affine BatchNorm with running stats, or plain InstanceNorm."""
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise ValueError(f"norm must be 'batch' or 'instance', not {norm!r}")


def make_up(upsample: Upsample, cin: int, cout: int, bias: bool) -> nn.Module:
    """The official 4x4 stride-2 transposed conv, or nearest 2x upsampling then a 3x3
    conv: the latter cannot draw the checkerboard a transposed conv's uneven kernel
    overlap leaves (Odena et al. 2016), which a small generator trained briefly shows."""
    if upsample == "transpose":
        return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=bias)
    if upsample == "resize":
        return nn.Sequential(
            nn.Upsample(scale_factor=2.0, mode="nearest"),
            nn.Conv2d(cin, cout, 3, padding=1, bias=bias),
        )
    raise ValueError(f"upsample must be 'transpose' or 'resize', not {upsample!r}")


class UnetSkipBlock(nn.Module):
    """One U-Net level: down, the inner levels, up; output concatenated with the input.

    Sequential indices (and so key names) follow the official block: outermost
    ``[conv, inner, relu, upconv, tanh]``; middle ``[lrelu, conv, norm, inner, relu,
    upconv, norm(, dropout)]``; innermost ``[lrelu, conv, relu, upconv, norm]``.
    Convs before a norm have no bias with BatchNorm (it would be cancelled), a bias
    with InstanceNorm; the outermost up-conv always has one. ``upsample="resize"``
    (:func:`make_up`) is ours, not the official layout.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        *,
        input_nc: int | None = None,
        inner: nn.Module | None = None,
        outermost: bool = False,
        norm: Norm = "batch",
        use_dropout: bool = False,
        upsample: Upsample = "transpose",
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = norm == "instance"
        down = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        up_in = inner_nc if inner is None else inner_nc * 2
        if outermost:
            assert inner is not None
            up = make_up(upsample, up_in, outer_nc, True)
            layers = [down, inner, nn.ReLU(True), up, nn.Tanh()]
        elif inner is None:  # innermost: no norm after the bottleneck conv
            up = make_up(upsample, up_in, outer_nc, bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, make_norm(norm, outer_nc)]
        else:
            up = make_up(upsample, up_in, outer_nc, bias)
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                make_norm(norm, inner_nc),
                inner,
                nn.ReLU(True),
                up,
                make_norm(norm, outer_nc),
            ]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix generator: ``num_downs`` halvings (8 = unet_256, 7 = unet_128).

    Input H and W must be multiples of ``2**num_downs``; output is tanh, in [-1, 1].
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: Norm = "batch",
        use_dropout: bool = False,
        upsample: Upsample = "transpose",
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be at least 5, not {num_downs}")
        self.num_downs = num_downs
        kw = {"norm": norm, "upsample": upsample}
        block = UnetSkipBlock(ngf * 8, ngf * 8, **kw)
        for _ in range(num_downs - 5):
            block = UnetSkipBlock(ngf * 8, ngf * 8, inner=block, use_dropout=use_dropout, **kw)
        for mult in (4, 2, 1):
            block = UnetSkipBlock(ngf * mult, ngf * mult * 2, inner=block, **kw)
        self.model = UnetSkipBlock(
            output_nc, ngf, input_nc=input_nc, inner=block, outermost=True, **kw
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator; ``n_layers=3`` is the 70x70 one pix2pix trains with.

    Input is the condition and the image concatenated (``input_nc`` = 6 for RGB pairs);
    output is one logit per patch.
    """

    def __init__(
        self, input_nc: int = 6, ndf: int = 64, n_layers: int = 3, norm: Norm = "batch"
    ) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(channels, out, 4, stride=stride, padding=1, bias=bias),
                make_norm(norm, out),
                nn.LeakyReLU(0.2, True),
            ]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(net: nn.Module) -> None:
    """pix2pix's 'normal' init: conv weights N(0, 0.02), norm scales N(1, 0.02)."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)


def adversarial_step(
    critic: nn.Module,
    opt_d: torch.optim.Optimizer,
    conditions: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """pix2pix's conditional GAN, once per step: update the PatchGAN on (conditions,
    real) against (conditions, fake) with BCE, then return the generator's GAN loss
    (``fake`` judged as real, with gradients to the generator only) and the critic's."""
    critic.requires_grad_(True)
    real_logits = critic(torch.cat([conditions, real], 1))
    fake_logits = critic(torch.cat([conditions, fake.detach()], 1))
    loss_d = 0.5 * (
        F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    )
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    critic.requires_grad_(False)  # G's step needs gradients through D, not for D
    judged = critic(torch.cat([conditions, fake], 1))
    gan = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
    return gan, loss_d

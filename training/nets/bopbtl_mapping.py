"""BOPBTL latent mapping nets with official key names, and the restore triplets.

Mirrors ``Global/models/mapping_model.py`` (``Mapping_Model``, quality),
``Global/models/NonLocal_feature_mapping_model.py`` (``Mapping_Model_with_mask``,
scratch) and ``Global/models/networks.py`` (``NonLocalBlock2D_with_mask_Res``) as
``Global/test.py`` configures them: map_mc=512, mapping_n_block=6, dilation 1,
instance norm, and for scratches NL_res, correlation_renormalize, fusion "combine",
temperature 1, no use_self, no cosine similarity. ``mc`` stays a parameter (>= 128,
which the official 64/128-channel ends require) so tests can build small nets.

:class:`RestoreQuality` and :class:`RestoreScratch` chain encoder A, the mapping and
decoder B into one graph, as ``Pix2PixHDModel_Mapping.inference`` does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from torch import nn

from training.nets.bopbtl_vae import GlobalGeneratorDCDCv2, ResnetBlock

OFFICIAL_MC = 512
OFFICIAL_BLOCKS = 6
ATTENTION_SIDE = 64  # feature maps up to 64x64 (4096 positions) are attended exactly
_TMP_NC = 64  # hard-coded in the official mapping nets
_N_UP = 4


def _conv_in_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, 1, 1), nn.InstanceNorm2d(cout), nn.ReLU()]


def _widen(mc: int) -> list[nn.Module]:
    """64 -> 128 -> 256 -> 512 -> 512 (capped at mc): the mapping's entry convs."""
    layers: list[nn.Module] = []
    for i in range(_N_UP):
        layers += _conv_in_relu(min(_TMP_NC * 2**i, mc), min(_TMP_NC * 2 ** (i + 1), mc))
    return layers


def _narrow(mc: int) -> list[nn.Module]:
    """The mapping's exit convs, back to the VAE's 64 latent channels."""
    layers: list[nn.Module] = []
    for i in range(_N_UP - 1):
        layers += _conv_in_relu(min(64 * 2 ** (4 - i), mc), min(64 * 2 ** (3 - i), mc))
    return [*layers, nn.Conv2d(_TMP_NC * 2, _TMP_NC, 3, 1, 1)]


def _check_mc(mc: int) -> None:
    if mc < 2 * _TMP_NC:
        raise ValueError(f"the official mapping layout needs mc >= {2 * _TMP_NC}, not {mc}")


class MappingModel(nn.Module):
    """``Mapping_Model``: the quality-restoration latent translation (key prefix ``model``)."""

    def __init__(self, mc: int = OFFICIAL_MC, n_blocks: int = OFFICIAL_BLOCKS) -> None:
        super().__init__()
        _check_mc(mc)
        blocks = [ResnetBlock(mc) for _ in range(n_blocks)]
        self.model = nn.Sequential(*_widen(mc), *blocks, *_narrow(mc))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def valid_keys(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Feature positions free of damage, as the official block computes them.

    A position is valid (1) when the bilinearly shrunk mask is exactly 0 there and
    the nearest-sampled mask is 0 too; ``mask`` is image-sized, 1 = damaged.
    """
    touched = (F.interpolate(mask, size, mode="bilinear", align_corners=False) > 0).to(mask.dtype)
    nearest = F.interpolate(1 - mask, size, mode="nearest")
    return (1 - touched) * nearest


def masked_attention(
    theta: torch.Tensor, phi: torch.Tensor, g: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Softmax attention over valid keys only, with the official operation order.

    ``theta``/``phi``/``g``: (N, C, H, W); ``valid``: (N, 1, H, W). Softmax over all
    keys, zero the damaged ones, then renormalise rows to sum 1 (L1, eps 1e-12).
    """
    n, c = g.shape[0], g.shape[1]
    q = theta.flatten(2).transpose(1, 2)
    weights = torch.softmax(torch.matmul(q, phi.flatten(2)), dim=2) * valid.flatten(2)
    weights = weights / weights.sum(dim=2, keepdim=True).clamp_min(1e-12)
    y = torch.matmul(weights, g.flatten(2).transpose(1, 2))
    return y.transpose(1, 2).reshape(n, c, theta.shape[2], theta.shape[3])


def _bin_matrix(size: torch.Tensor, cap: int, like: torch.Tensor) -> torch.Tensor:
    """(min(size, cap), size) row-stochastic matrix averaging contiguous bins.

    Source index j goes to bin j * bins // size, so for size <= cap it is the identity.
    Built from tensor ops on ``size`` so the ONNX graph keeps the size dynamic.
    """
    bins = torch.clamp(size, max=cap)
    src = torch.arange(size, device=like.device)
    dst = torch.arange(bins, device=like.device)
    hits = (dst[:, None] == torch.div(src * bins, size, rounding_mode="floor")[None, :]).to(
        like.dtype
    )
    return hits / hits.sum(dim=1, keepdim=True)


class NonLocalBlock2DWithMaskRes(nn.Module):
    """``NonLocalBlock2D_with_mask_Res``: damaged positions gather valid features.

    With ``max_side=None`` attention runs over the whole feature map, exactly as the
    official block does; its (HW)^2 weight matrix needs 13 GiB for an 800x1200
    photo. With ``max_side=s`` (the export setting) a map whose sides are both <= s
    is attended exactly as well (the pooling matrices are identities), while a larger
    one is first average-pooled per axis into at most s x s contiguous bins; queries,
    keys and values are attended at that size (a bin is a valid key only if all of it
    is undamaged) and the result is bilinearly upsampled before ``W``. The weight
    matrix is then at most s^4 floats (64 MiB for s=64) whatever the photo size.

    We pool rather than cut the map into windows because windows lose the block's
    point: a window inside a large damaged area has no valid keys at all, whereas the
    pooled map keeps every undamaged region of the photo as a candidate. The price is
    that above the cap, fill-in features are the attention result of ~s-bin-sized
    cells (4 px of latent = 16 px of photo per cell step at 1024 px), smoothed by the
    bilinear upsampling and the following residual blocks.
    """

    def __init__(self, in_channels: int, inter_channels: int, max_side: int | None = None):
        super().__init__()
        self.inter_channels = inter_channels
        self.max_side = max_side
        self.g = nn.Conv2d(in_channels, inter_channels, 1)
        self.W = nn.Conv2d(inter_channels, in_channels, 1)  # noqa: N815 - official key name
        self.theta = nn.Conv2d(in_channels, inter_channels, 1)
        self.phi = nn.Conv2d(in_channels, inter_channels, 1)
        self.res_block = nn.Sequential(*(ResnetBlock(inter_channels) for _ in range(3)))

    def _attend(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        theta, phi, g = self.theta(x), self.phi(x), self.g(x)
        if self.max_side is None:
            return masked_attention(theta, phi, g, valid)
        shape = torch._shape_as_tensor(x)  # a tensor, so the export keeps sizes dynamic
        rows = _bin_matrix(shape[2], self.max_side, x)
        cols = _bin_matrix(shape[3], self.max_side, x)

        def pool(t: torch.Tensor) -> torch.Tensor:
            return torch.matmul(torch.matmul(rows, t), cols.transpose(0, 1))

        small_valid = (pool(valid) > 1 - 1e-6).to(x.dtype)
        y = masked_attention(pool(theta), pool(phi), pool(g), small_valid)
        return F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = valid_keys(mask, x.shape[2:])
        w_y = self.res_block(self.W(self._attend(x, valid)))
        return valid * x + (1 - valid) * w_y


class MappingModelWithMask(nn.Module):
    """``Mapping_Model_with_mask``: the scratch-restoration mapping (``before_NL``, ``NL``,
    ``after_NL``). ``max_side`` bounds the non-local block's memory (see its class)."""

    def __init__(
        self, mc: int = OFFICIAL_MC, n_blocks: int = OFFICIAL_BLOCKS, max_side: int | None = None
    ) -> None:
        super().__init__()
        _check_mc(mc)
        self.before_NL = nn.Sequential(*_widen(mc))  # noqa: N815 - official key name
        self.NL = NonLocalBlock2DWithMaskRes(mc, mc, max_side)  # noqa: N815
        blocks = [ResnetBlock(mc) for _ in range(n_blocks)]
        self.after_NL = nn.Sequential(*blocks, *_narrow(mc))  # noqa: N815

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.after_NL(self.NL(self.before_NL(x), mask))


def mapping_config(state: dict[str, torch.Tensor], prefix: str) -> dict[str, int]:
    """``mc`` and ``n_blocks`` read from a mapping checkpoint's shapes (``prefix``:
    ``model.`` for quality, ``after_NL.`` for scratch)."""
    first_block = 12 if prefix == "model." else 0  # 4 x (conv, IN, ReLU) come first
    key = f"{prefix}{first_block}.conv_block.1.weight"
    if key not in state:
        return {"mc": OFFICIAL_MC, "n_blocks": OFFICIAL_BLOCKS}
    blocks = {k.split(".")[1] for k in state if k.startswith(prefix) and ".conv_block." in k}
    return {"mc": int(state[key].shape[0]), "n_blocks": len(blocks)}


class RestoreQuality(nn.Module):
    """Encoder A -> ``Mapping_Model`` -> decoder B; image in and out in [-1, 1]."""

    def __init__(
        self, vae_a: GlobalGeneratorDCDCv2, mapping: MappingModel, vae_b: GlobalGeneratorDCDCv2
    ) -> None:
        super().__init__()
        self.vae_a, self.mapping, self.vae_b = vae_a, mapping, vae_b

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.vae_b(self.mapping(self.vae_a(image, "enc")), "dec")


class RestoreScratch(nn.Module):
    """Hole filling + encoder A -> ``Mapping_Model_with_mask`` -> decoder B (scratch).

    ``Global/test.py`` paints damaged pixels white before encoding
    (``irregular_hole_synthesize``); the graph does it too, so callers pass the photo
    as it is, in [-1, 1], with ``mask`` in [0, 1] (1 = damaged).
    """

    def __init__(
        self,
        vae_a: GlobalGeneratorDCDCv2,
        mapping: MappingModelWithMask,
        vae_b: GlobalGeneratorDCDCv2,
    ) -> None:
        super().__init__()
        self.vae_a, self.mapping, self.vae_b = vae_a, mapping, vae_b

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        holed = image * (1 - mask) + mask
        return self.vae_b(self.mapping(self.vae_a(holed, "enc"), mask), "dec")

"""training.export: BN -> IN equivalence, ONNX parity at two sizes, packs and cards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.models import Manifest, SizeRule, TensorSpec, Tiling, read_pack, sha256_of
from training.eval.cards import render_card
from training.export import (
    ParityError,
    batchnorm_to_instancenorm,
    check_parity,
    export_onnx,
    export_pack,
)
from training.nets.pix2pix import UnetGenerator

AXES = {0: "batch", 2: "height", 3: "width"}
SECTIONS = {s: f"{s} text" for s in ("Architecture", "Data", "Training", "Metrics", "Licence")}


def _trained_bn_unet() -> UnetGenerator:
    torch.manual_seed(0)
    net = UnetGenerator(3, 3, num_downs=8, ngf=8, norm="batch")
    for module in net.modules():  # non-trivial affine and running stats
        if isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.3)
            nn.init.normal_(module.bias, 0.0, 0.3)
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    return net


def _manifest(name: str = "p2p-test") -> Manifest:
    return Manifest(
        name=name,
        task="sketch2photo",
        version="1",
        title=name,
        inputs=(TensorSpec("edges", "NCHW", 3, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("photo", "NCHW", 3, "float32", (-1.0, 1.0)),),
        sha256="",
        licence="test",
        size_rule=SizeRule(multiple_of=256, min=256),
        tiling=Tiling(allowed=False, overlap=0),
    )


def test_batchnorm_to_instancenorm_matches_train_mode_batchnorm_at_batch_1() -> None:
    net = _trained_bn_unet()
    converted = batchnorm_to_instancenorm(net).eval()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in converted.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # original untouched
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        reference = net.train()(x)  # official test: BN with the image's own statistics
        ours = converted(x)
        eval_mode = net.eval()(x)
    assert torch.allclose(ours, reference, atol=1e-5)
    assert not torch.allclose(eval_mode, reference, atol=1e-3)  # the swap is not a no-op


def test_unet_exports_with_parity_at_two_sizes(tmp_path) -> None:
    net = batchnorm_to_instancenorm(_trained_bn_unet())
    path = export_onnx(
        net,
        {"edges": torch.zeros(1, 3, 256, 256)},
        tmp_path / "g.onnx",
        dynamic={"edges": AXES, "photo": AXES},
        output_names=["photo"],
    )
    rng = np.random.default_rng(1)
    for shape in ((1, 3, 256, 256), (2, 3, 512, 256)):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        assert check_parity(net, path, {"edges": x}) < 1e-4


def test_check_parity_raises_naming_the_output(tmp_path) -> None:
    net = nn.Conv2d(3, 2, 3, padding=1)
    path = export_onnx(
        net, {"x": torch.zeros(1, 3, 8, 8)}, tmp_path / "c.onnx", dynamic=None, output_names=["y"]
    )
    with torch.no_grad():
        net.bias += 0.01  # torch now differs from the exported graph
    with pytest.raises(ParityError, match=r"output 'y' differs .* x\(1, 3, 8, 8\)"):
        check_parity(net, path, {"x": np.zeros((1, 3, 8, 8), np.float32)})


def test_render_card_requires_every_section() -> None:
    card = render_card("T", SECTIONS)
    assert card.startswith("# T\n") and "## Licence\n\nLicence text" in card
    with pytest.raises(ValueError, match="Metrics, Licence"):
        render_card("T", {k: v for k, v in SECTIONS.items() if k not in ("Metrics", "Licence")})


def test_export_pack_writes_a_verified_pack_whose_card_has_the_sha(tmp_path) -> None:
    net = batchnorm_to_instancenorm(_trained_bn_unet())
    x = np.zeros((1, 3, 256, 256), np.float32)
    pack = export_pack(
        net,
        tmp_path / "pack",
        _manifest(),
        render_card("T", SECTIONS),
        example={"edges": torch.from_numpy(x)},
        dynamic={"edges": AXES, "photo": AXES},
        parity_inputs=[{"edges": x}],
    )
    digest = sha256_of(pack.model_path)
    assert read_pack(pack.path).manifest.sha256 == digest
    card = pack.card_path.read_text()
    assert f"sha256: `{digest}`" in card and "edges(1, 3, 256, 256)" in card


def test_export_pack_writes_nothing_when_parity_fails(tmp_path) -> None:
    class Drifting(nn.Module):  # differs between export (trace) and the parity run
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return x * self.calls

    x = np.ones((1, 3, 256, 256), np.float32)
    with pytest.raises(ParityError):
        export_pack(
            Drifting(),
            tmp_path / "pack",
            _manifest(),
            render_card("T", SECTIONS),
            example={"edges": torch.from_numpy(x)},
            dynamic=None,
            parity_inputs=[{"edges": x}],
        )
    assert not (tmp_path / "pack").exists()

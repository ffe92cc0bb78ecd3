"""pix2pix: official layout, checkpoint -> pack -> registry -> engine runtime round trip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.models import Registry
from engine.runtime import open_session
from training.cli import main as train_cli
from training.convert.__main__ import main as convert_cli
from training.convert.checkpoint import CheckpointError
from training.convert.pix2pix import convert, infer_unet_shape
from training.nets.pix2pix import NLayerDiscriminator, UnetGenerator

REPO = Path(__file__).resolve().parents[2]


def _official_checkpoint(path: Path, norm: str = "batch") -> UnetGenerator:
    """A random net saved like the official ``save_networks``: torch.save(state_dict)."""
    torch.manual_seed(0)
    net = UnetGenerator(3, 3, num_downs=8, ngf=8, norm=norm, use_dropout=True)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.3)
            nn.init.normal_(module.bias, 0.0, 0.3)
            module.running_mean.normal_()
    torch.save(net.state_dict(), path)
    return net


def _count(state: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() for k, v in state.items() if "running" not in k and "num_" not in k)


def test_layout_matches_the_official_networks_py() -> None:
    # junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py: define_G('unet_256', ngf=64,
    # norm='batch') prints 54.414 M parameters, define_D('basic') 2.769 M; key paths follow
    # UnetGenerator.model -> UnetSkipConnectionBlock.model (nn.Sequential) nesting.
    with torch.device("meta"):
        g = UnetGenerator(3, 3, 8, 64, "batch", use_dropout=True).state_dict()
        d = NLayerDiscriminator(6, 64, 3, "batch").state_dict()
        g_in = UnetGenerator(3, 3, 7, 64, "instance").state_dict()
    assert round(_count(g) / 1e6, 3) == 54.414 and round(_count(d) / 1e6, 3) == 2.769
    assert len(g) == 82 and len(d) == 22
    assert g["model.model.0.weight"].shape == (64, 3, 4, 4)  # outermost down, no bias
    assert "model.model.0.bias" not in g and "model.model.3.bias" in g  # outermost up
    assert g["model.model.1.model.1.weight"].shape == (128, 64, 4, 4)
    assert g["model.model.1.model.2.running_var"].shape == (128,)
    assert g["model.model.1.model.5.weight"].shape == (256, 64, 4, 4)  # ConvTranspose in, out
    innermost = "model.model.1.model" + ".3.model" * 6
    assert g[f"{innermost}.1.weight"].shape == (512, 512, 4, 4)
    assert g[f"{innermost}.3.weight"].shape == (512, 512, 4, 4)
    assert g[f"{innermost}.4.weight"].shape == (512,)
    assert [k for k in d if k.endswith("weight")] == [
        f"model.{i}.weight" for i in (0, 2, 3, 5, 6, 8, 9, 11)
    ]
    assert "model.model.0.bias" in g_in and not any("running" in k for k in g_in)


def test_infers_the_generator_shape(tmp_path) -> None:
    state = UnetGenerator(1, 3, 7, 16, "instance").state_dict()
    shape = infer_unet_shape(state)
    assert (shape.input_nc, shape.output_nc, shape.ngf, shape.num_downs, shape.norm) == (
        1,
        3,
        16,
        7,
        "instance",
    )


def test_round_trip_through_registry_and_runtime(tmp_path) -> None:
    ckpt = tmp_path / "latest_net_G.pth"
    net = _official_checkpoint(ckpt)
    assert (
        convert_cli(
            ["pix2pix", str(ckpt), "-o", str(tmp_path / "out" / "edges2test"), "--name", "e2t"]
        )
        == 0
    )
    registry = Registry(bundled=tmp_path / "none", user=tmp_path / "user")
    pack = registry.import_pack(tmp_path / "out" / "edges2test")
    manifest = pack.manifest
    assert (manifest.name, manifest.task) == ("e2t", "sketch2photo")
    assert manifest.size_rule.multiple_of == 256 and manifest.size_rule.min == 256
    assert not manifest.tiling.allowed
    assert [(t.name, t.value_range) for t in manifest.inputs] == [("edges", (-1.0, 1.0))]
    assert manifest.outputs[0].name == "photo"
    card = pack.card_path.read_text()
    assert "converted from the official pix2pix checkpoint `latest_net_G.pth`" in card
    assert manifest.sha256 in card and "BSD" in card
    session = open_session(pack.model_path, device="cpu")
    rng = np.random.default_rng(3)
    net.train()  # official test: BN uses each image's statistics; dropout off for determinism
    for module in net.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    for shape in ((1, 3, 256, 256), (2, 3, 512, 256)):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        (ours,) = session.run({"edges": x})
        with torch.no_grad():
            reference = torch.cat([net(torch.from_numpy(x[i : i + 1])) for i in range(len(x))])
        assert np.abs(ours - reference.numpy()).max() < 1e-4


def test_old_instance_norm_running_stats_are_dropped(tmp_path) -> None:
    ckpt = tmp_path / "latest_net_G.pth"
    net = _official_checkpoint(ckpt, norm="instance")
    state = torch.load(ckpt)
    for name, module in net.named_modules():
        if isinstance(module, nn.InstanceNorm2d):  # what PyTorch < 0.4 saved
            state[f"{name}.running_mean"] = torch.zeros(module.num_features)
            state[f"{name}.running_var"] = torch.ones(module.num_features)
    torch.save(state, ckpt)
    pack = convert(ckpt, tmp_path / "pack")
    assert "instance norm" in pack.manifest.architecture


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("missing", ["missing keys: model.model.1.model.2.running_var"]),
        (
            "renamed",
            [
                "missing keys: model.model.1.model.5.weight",
                "unexpected keys: model.model.1.model.5.kernel",
            ],
        ),
        ("reshaped", ["wrong shapes", "model.model.1.model.2.bias (8,) vs (16,)"]),
    ],
)
def test_bad_checkpoints_fail_naming_the_keys(tmp_path, edit, named) -> None:
    ckpt = tmp_path / "latest_net_G.pth"
    _official_checkpoint(ckpt)
    state = torch.load(ckpt)
    if edit == "missing":
        del state["model.model.1.model.2.running_var"]
    elif edit == "renamed":
        state["model.model.1.model.5.kernel"] = state.pop("model.model.1.model.5.weight")
    else:
        state["model.model.1.model.2.bias"] = state["model.model.1.model.2.bias"][:8]
    torch.save(state, ckpt)
    with pytest.raises(CheckpointError) as caught:
        convert(ckpt, tmp_path / "pack")
    for text in named:
        assert text in str(caught.value)
    assert not (tmp_path / "pack").exists()


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys) -> None:
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert train_cli(["convert", "pix2pix", str(tmp_path / "junk.pth"), "-o", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'junk.pth' is not a readable torch checkpoint")
    assert err.count("\n") == 1
    (tmp_path / "taken").mkdir()
    ckpt = tmp_path / "latest_net_G.pth"
    _official_checkpoint(ckpt)
    assert convert_cli(["pix2pix", str(ckpt), "-o", str(tmp_path / "taken")]) == 2
    assert "already exists; use --overwrite" in capsys.readouterr().err
    done = subprocess.run(
        [sys.executable, "-m", "training.convert", "pix2pix", "/no/such.pth", "-o", "x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == "error: checkpoint '/no/such.pth' does not exist\n"

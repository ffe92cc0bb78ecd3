"""DDPM: a tiny diffusers folder -> ddpm-eps pack -> registry -> engine runtime round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler, UNet2DModel

from engine.models import Registry
from engine.runtime import open_session
from training.convert.__main__ import main as convert_cli
from training.convert.checkpoint import CheckpointError
from training.convert.ddpm import convert

SCHEDULE = {
    "num_train_timesteps": 100,
    "beta_start": 0.0002,
    "beta_end": 0.03,
    "beta_schedule": "linear",
    "variance_type": "fixed_small",
    "clip_sample": True,
    "prediction_type": "epsilon",
}


def _tiny_ddpm(folder: Path) -> UNet2DModel:
    """A google/ddpm-* style folder (unet/ + scheduler/) holding a tiny random UNet."""
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    ).eval()
    unet.save_pretrained(folder / "unet")
    DDPMScheduler(**SCHEDULE).save_pretrained(folder / "scheduler")
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n")
    return unet


def test_round_trip_through_registry_and_runtime(tmp_path) -> None:
    unet = _tiny_ddpm(tmp_path / "ddpm-tiny")
    assert convert_cli(["ddpm", str(tmp_path / "ddpm-tiny"), "-o", str(tmp_path / "pack")]) == 0
    registry = Registry(bundled=tmp_path / "none", user=tmp_path / "user")
    pack = registry.import_pack(tmp_path / "pack")
    manifest = pack.manifest
    assert (manifest.name, manifest.task, manifest.licence) == ("pack", "ddpm-eps", "apache-2.0")
    assert manifest.size_rule.fixed == (32, 32) and not manifest.tiling.allowed
    assert {k: manifest.options[k] for k in SCHEDULE} == SCHEDULE
    assert [(t.name, t.dtype) for t in manifest.inputs] == [
        ("sample", "float32"),
        ("timestep", "int64"),
    ]
    assert manifest.outputs[0].name == "eps"
    card = pack.card_path.read_text()
    assert manifest.sha256 in card and "converted from the diffusers folder `ddpm-tiny`" in card
    session = open_session(pack.model_path, device="cpu")
    rng = np.random.default_rng(5)
    for timesteps in ([7], [0, 99, 50]):  # batch 1 and 3: the batch axis is dynamic
        sample = rng.standard_normal((len(timesteps), 3, 32, 32)).astype(np.float32)
        t = np.array(timesteps, dtype=np.int64)
        (eps,) = session.run({"sample": sample, "timestep": t})
        with torch.no_grad():
            reference = unet(torch.from_numpy(sample), torch.from_numpy(t)).sample.numpy()
        assert eps.shape == sample.shape
        assert np.abs(eps - reference).max() < 1e-4


def test_missing_files_are_listed(tmp_path, capsys) -> None:
    folder = tmp_path / "half"
    _tiny_ddpm(folder)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "scheduler" / "scheduler_config.json").unlink()
    with pytest.raises(CheckpointError) as caught:
        convert(folder, tmp_path / "pack")
    message = str(caught.value)
    assert "scheduler/scheduler_config.json" in message
    assert "unet/diffusion_pytorch_model.safetensors (or .bin)" in message
    assert "unet/config.json" not in message
    assert convert_cli(["ddpm", str(folder), "-o", str(tmp_path / "pack")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "pack").exists()


def test_non_epsilon_models_are_refused(tmp_path) -> None:
    folder = tmp_path / "v"
    _tiny_ddpm(folder)
    DDPMScheduler(**{**SCHEDULE, "prediction_type": "v_prediction"}).save_pretrained(
        folder / "scheduler"
    )
    with pytest.raises(CheckpointError, match="only epsilon prediction"):
        convert(folder, tmp_path / "pack")

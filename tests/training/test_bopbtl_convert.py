"""Official BOPBTL checkpoint folders -> packs -> engine, against the official maths.

The fixture writes randomly initialised nets in the official file formats and folder
layout (Global/detection.py: ``{"model_state": sd}`` in detection/FT_Epoch_latest.pt;
Global/test.py + models/base_model.py: ``latest_net_G.pth`` / ``latest_net_mapping_net.pth``
state_dicts under checkpoints/restoration; Face_Enhancement/test_face.py:
Setting_9_epoch_100/latest_net_G.pth). Widths are small where the official layout
lets a width vary (UNet wf, mapping mc, face ngf); the VAEs are full size.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import runtime
from engine.models import Registry
from training.convert.__main__ import main as convert_main
from training.convert.bopbtl import (
    DETECT,
    FACE,
    MAPPING_QUALITY,
    MAPPING_SCRATCH,
    VAE_A,
    VAE_B_QUALITY,
    VAE_B_SCRATCH,
    CheckpointError,
    convert_bopbtl,
    find_roots,
)
from training.nets.bopbtl_detect import ScratchUNet
from training.nets.bopbtl_face import SPADEGenerator
from training.nets.bopbtl_mapping import MappingModel, MappingModelWithMask
from training.nets.bopbtl_vae import GlobalGeneratorDCDCv2

ATOL = 1e-4


def _train_passes(net: torch.nn.Module, *shape: int) -> None:
    """A train-mode pass gives BN real running statistics and converge spectral norm."""
    net.train()
    with torch.no_grad():
        net(torch.rand(*shape) * 2 - 1)
    net.eval()


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.nn.Module]]:
    """A BOPBTL checkout with checkpoints, and the torch nets saved in it."""
    root = tmp_path_factory.mktemp("bopbtl")
    glob, face_dir = root / "Global" / "checkpoints", root / "Face_Enhancement" / "checkpoints"
    torch.manual_seed(0)
    nets: dict[str, torch.nn.Module] = {
        DETECT: ScratchUNet(wf=2),
        VAE_A: GlobalGeneratorDCDCv2(),
        VAE_B_QUALITY: GlobalGeneratorDCDCv2(),
        VAE_B_SCRATCH: GlobalGeneratorDCDCv2(),
        MAPPING_QUALITY: MappingModel(mc=128),
        MAPPING_SCRATCH: MappingModelWithMask(mc=128),  # official (unbounded) attention
        FACE: SPADEGenerator(ngf=4),
    }
    _train_passes(nets[DETECT], 2, 1, 32, 32)
    _train_passes(nets[FACE], 1, 3, 32, 32)
    for relative, net in nets.items():
        path = (face_dir if relative == FACE else glob) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        state = net.eval().state_dict()
        torch.save({"model_state": state, "epoch": 3} if relative == DETECT else state, path)
    return root, nets


@pytest.fixture(scope="module")
def packs(official, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """All four packs converted from the repo root, then imported into a user folder."""
    root, _ = official
    out = tmp_path_factory.mktemp("out")
    registry = Registry(bundled=out / "none", user=out / "user")
    converted = convert_bopbtl(root, out / "packs")
    return {p.name: registry.import_pack(p.path).model_path for p in converted}


def _run(model: Path, **feeds: np.ndarray) -> np.ndarray:
    return runtime.open_session(model, device="cpu").run(feeds)[0]


def _image(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> np.ndarray:
    return rng.uniform(-1, 1, (n, c, h, w)).astype(np.float32)


def _close(ours: np.ndarray, expected: torch.Tensor) -> None:
    assert ours.shape == tuple(expected.shape)
    assert np.abs(ours - expected.numpy()).max() <= ATOL


def test_all_four_packs_are_written(packs: dict[str, Path]) -> None:
    assert sorted(packs) == [
        "bopbtl-face-enhance",
        "bopbtl-restore-quality",
        "bopbtl-restore-scratch",
        "bopbtl-scratch-detect",
    ]


@pytest.mark.parametrize("size", [(32, 48), (64, 32)])
def test_detection_pack_gives_the_official_probability(official, packs, size) -> None:
    _, nets = official
    image = _image(np.random.default_rng(1), 1, 1, *size)
    with torch.no_grad():
        expected = torch.sigmoid(nets[DETECT](torch.from_numpy(image)))
    _close(_run(packs["bopbtl-scratch-detect"], image=image), expected)


@pytest.mark.parametrize("size", [(32, 48), (24, 36)])
def test_quality_pack_is_encoder_a_mapping_decoder_b(official, packs, size) -> None:
    _, nets = official
    image = _image(np.random.default_rng(2), 1, 3, *size)
    with torch.no_grad():
        latent = nets[MAPPING_QUALITY](nets[VAE_A](torch.from_numpy(image), "enc"))
        expected = nets[VAE_B_QUALITY](latent, "dec")
    _close(_run(packs["bopbtl-restore-quality"], image=image), expected)


@pytest.mark.parametrize("size", [(32, 48), (48, 24)])
def test_scratch_pack_matches_official_hole_filling_and_attention(official, packs, size):
    _, nets = official
    rng = np.random.default_rng(3)
    image = _image(rng, 1, 3, *size)
    mask = np.zeros((1, 1, *size), np.float32)
    mask[:, :, 10:13, :] = 1  # a horizontal scratch and a speck
    mask[:, :, 20:23, 5:9] = 1
    img, msk = torch.from_numpy(image), torch.from_numpy(mask)
    with torch.no_grad():  # Global/test.py: irregular_hole_synthesize paints holes white
        latent = nets[VAE_A](img * (1 - msk) + msk, "enc")
        expected = nets[VAE_B_SCRATCH](nets[MAPPING_SCRATCH](latent, msk), "dec")
    _close(_run(packs["bopbtl-restore-scratch"], image=image, mask=mask), expected)


def test_face_pack_matches_the_spectral_norm_generator(official, packs) -> None:
    _, nets = official
    face = _image(np.random.default_rng(4), 1, 3, 256, 256)
    with torch.no_grad():
        expected = nets[FACE](torch.from_numpy(face))
    _close(_run(packs["bopbtl-face-enhance"], image=face), expected)


def test_manifests_carry_what_the_engine_needs(packs) -> None:
    registry = Registry(bundled=Path("/nonexistent"), user=packs["bopbtl-face-enhance"].parents[1])
    detect = registry.get("bopbtl-scratch-detect").manifest
    assert detect.task == "scratch-detect" and detect.options["threshold"] == 0.4
    assert detect.outputs[0].name == "probability" and detect.size_rule.multiple_of == 16
    scratch = registry.get("bopbtl-restore-scratch").manifest
    assert [t.name for t in scratch.inputs] == ["image", "mask"]
    assert scratch.options["needs_mask"] is True and scratch.options["input_range"] == [-1, 1]
    assert not scratch.tiling.allowed
    assert registry.get("bopbtl-face-enhance").manifest.size_rule.fixed == (256, 256)
    sources = registry.get("bopbtl-restore-quality").manifest.provenance["files"]
    assert sources["mapping"]["path"] == "Global/checkpoints/" + MAPPING_QUALITY


def _copy(official, tmp_path: Path) -> Path:
    root, _ = official
    return Path(shutil.copytree(root, tmp_path / "copy"))


def test_missing_key_is_named(official, tmp_path: Path) -> None:
    root = _copy(official, tmp_path)
    path = root / "Global" / "checkpoints" / VAE_A
    state = torch.load(path)
    del state["encoder.10.conv_block.5.bias"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"missing keys: encoder\.10\.conv_block\.5\.bias"):
        convert_bopbtl(root, tmp_path / "out", parts=["bopbtl-restore-quality"])
    assert not (tmp_path / "out").exists()


def test_renamed_and_reshaped_keys_are_named(official, tmp_path: Path) -> None:
    root = _copy(official, tmp_path)
    detect = root / "Global" / "checkpoints" / DETECT
    saved = torch.load(detect)
    saved["model_state"]["last.2.weight"] = saved["model_state"].pop("last.1.weight")
    torch.save(saved, detect)
    with pytest.raises(CheckpointError) as err:
        convert_bopbtl(root, tmp_path / "out", parts=["bopbtl-scratch-detect"])
    assert "missing keys: last.1.weight" in str(err.value)
    assert "unexpected keys: last.2.weight" in str(err.value)
    mapping = root / "Global" / "checkpoints" / MAPPING_QUALITY
    state = torch.load(mapping)
    state["model.27.weight"] = state["model.27.weight"][:, :, :1, :1].clone()
    torch.save(state, mapping)
    with pytest.raises(CheckpointError, match=r"model\.27\.weight \(64, 128, 1, 1\) vs"):
        convert_bopbtl(root, tmp_path / "out", parts=["bopbtl-restore-quality"])


def test_missing_files_are_named(official, tmp_path: Path, caplog) -> None:
    root = _copy(official, tmp_path)
    glob = root / "Global" / "checkpoints"
    (glob / MAPPING_SCRATCH).unlink()
    with pytest.raises(CheckpointError, match="mapping_scratch/latest_net_mapping_net.pth"):
        convert_bopbtl(root, tmp_path / "out", parts=["bopbtl-restore-scratch"])
    shutil.rmtree(glob / "restoration")
    with caplog.at_level(logging.WARNING):
        made = convert_bopbtl(glob, tmp_path / "out")  # the checkpoints folder itself
    assert [p.name for p in made] == ["bopbtl-scratch-detect"]
    assert "skipped bopbtl-restore-quality" in caplog.text and VAE_A in caplog.text
    assert "Face_Enhancement/checkpoints/" + FACE in caplog.text
    shutil.rmtree(glob / "detection")
    with pytest.raises(CheckpointError, match="no BOPBTL checkpoints"):
        convert_bopbtl(glob, tmp_path / "out2")


def test_any_folder_level_is_accepted(official) -> None:
    root, _ = official
    glob, face = root / "Global" / "checkpoints", root / "Face_Enhancement" / "checkpoints"
    assert find_roots(root).global_dir == glob and find_roots(root).face_dir == face
    assert find_roots(root / "Global").global_dir == glob
    assert find_roots(face).face_dir == face and find_roots(face).global_dir is None


def test_cli_converts_one_part(official, tmp_path: Path, capsys) -> None:
    root, _ = official
    code = convert_main(
        ["bopbtl", str(root), "-o", str(tmp_path), "--part", "bopbtl-scratch-detect"]
    )
    assert code == 0
    assert "scratch-detect pack 'bopbtl-scratch-detect'" in capsys.readouterr().out
    assert (tmp_path / "bopbtl-scratch-detect" / "model.onnx").is_file()

"""MTCNN nets: the real facenet-pytorch weights load strictly and export faithfully."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image

from downloads import CACHE as DOWNLOADS
from downloads import cached_or_skip
from engine.models import BUNDLED_DIR, read_pack, verify_pack
from engine.runtime import open_session
from training.convert.mtcnn import FACENET_VERSION, STAGES, export_stage, fetch_weights
from training.nets.mtcnn import NETS, WEIGHT_FILES, load_pretrained

CACHE = DOWNLOADS / "facenet"


pytestmark = pytest.mark.network  # every test here needs facenet-pytorch's weights


@pytest.fixture(scope="module")
def weights() -> Path:
    wheel = CACHE / f"facenet_pytorch-{FACENET_VERSION}-py3-none-any.whl"
    cached_or_skip(f"facenet-pytorch {FACENET_VERSION}'s wheel", wheel, lambda: fetch(wheel))
    return fetch_weights(CACHE)  # unpacks the weights from the cached wheel


def fetch(wheel: Path) -> Path:
    fetch_weights(CACHE)
    return wheel


def _normalised(pixels: np.ndarray) -> np.ndarray:
    return ((pixels.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None].copy()


def _grace(box: tuple[int, int, int, int] | None = None, side: int | None = None) -> np.ndarray:
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        image = image.convert("RGB")
        if box:
            image = image.crop(box)
        if side:
            image = image.resize((side, side), Image.Resampling.BOX)
        return np.asarray(image)


FACE_BOX = (175, 110, 355, 330)  # Grace Hopper's face, found by eye
BACKGROUND_BOX = (0, 0, 120, 120)


@pytest.mark.parametrize("name", list(NETS))
def test_pretrained_weights_load_strictly(weights: Path, name: str) -> None:
    state = torch.load(weights / WEIGHT_FILES[name], map_location="cpu", weights_only=True)
    net = load_pretrained(name, weights)
    assert set(net.state_dict()) == set(state)
    for key, value in state.items():
        assert torch.equal(net.state_dict()[key], value)


@pytest.mark.parametrize("name,side", [("rnet", 24), ("onet", 48)])
def test_pretrained_nets_tell_a_face_from_background(weights: Path, name: str, side: int) -> None:
    net = load_pretrained(name, weights)
    with torch.no_grad():
        face = net(torch.from_numpy(_normalised(_grace(FACE_BOX, side))))[1].item()
        wall = net(torch.from_numpy(_normalised(_grace(BACKGROUND_BOX, side))))[1].item()
    assert face > 0.9
    assert wall < 0.1


def test_onet_landmarks_are_in_face_order(weights: Path) -> None:
    with torch.no_grad():
        marks = load_pretrained("onet", weights)(
            torch.from_numpy(_normalised(_grace(FACE_BOX, 48)))
        )[2][0].numpy()
    xs, ys = marks[:5], marks[5:]
    assert xs[0] < xs[2] < xs[1]  # left eye, nose, right eye
    assert max(ys[0], ys[1]) < ys[2] < min(ys[3], ys[4])  # eyes above nose above mouth


@pytest.mark.parametrize("name", list(STAGES))
def test_export_matches_torch_on_a_real_image(weights: Path, tmp_path: Path, name: str) -> None:
    pack = export_stage(name, weights, tmp_path)
    verify_pack(pack)
    assert pack.manifest.task == f"face-detect-{name}"
    assert pack.manifest.sha256 in pack.card_path.read_text()
    side = STAGES[name].size
    pixels = _grace(FACE_BOX, side) if side else _grace()[::2, ::2]
    x = _normalised(pixels)
    with torch.no_grad():
        expected = [t.numpy() for t in load_pretrained(name, weights)(torch.from_numpy(x))]
    got = open_session(pack.model_path, "cpu").run({"image": x})
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-4)


@pytest.mark.parametrize("name", list(STAGES))
def test_bundled_packs_are_sound_and_match_torch(weights: Path, name: str) -> None:
    pack = read_pack(BUNDLED_DIR / f"mtcnn-{name}", "bundled")
    verify_pack(pack)
    side = STAGES[name].size or 60
    x = _normalised(_grace(FACE_BOX, side))
    with torch.no_grad():
        expected = [t.numpy() for t in load_pretrained(name, weights)(torch.from_numpy(x))]
    got = open_session(pack.model_path, "cpu").run({"image": x})
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-4)


def test_the_converter_takes_the_wheel_itself(weights: Path, tmp_path: Path) -> None:
    """``python -m training.convert mtcnn WHEEL -o DIR``: the three packs, verified."""
    from training.convert.__main__ import main

    wheel = CACHE / f"facenet_pytorch-{FACENET_VERSION}-py3-none-any.whl"
    assert main(["mtcnn", str(wheel), "-o", str(tmp_path / "packs")]) == 0
    for name in STAGES:
        pack = read_pack(tmp_path / "packs" / f"mtcnn-{name}")
        verify_pack(pack)
        assert pack.manifest.task == f"face-detect-{name}"
    assert main(["mtcnn", str(tmp_path), "-o", str(tmp_path / "x")]) == 2  # no weights there

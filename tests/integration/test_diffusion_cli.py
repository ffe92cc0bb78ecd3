"""`heirloom diffuse ...` as a user runs it: a subprocess, exit codes, files, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from commands import heirloom
from diffusion_graphs import SIZE, eps_pack, target_image


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user folder holding one imported tiny eps pack (the exact one: known answers)."""
    root = tmp_path_factory.mktemp("diffuse")
    pack = eps_pack(root / "src", "eps-exact", "exact")
    result = heirloom("models", "import", str(pack.path), home=root / "home")
    assert result.returncode == 0, result.stderr
    return root / "home"


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255


def test_generate_writes_images_previews_and_a_gif(home: Path, tmp_path: Path) -> None:
    out, frames = tmp_path / "sample.png", tmp_path / "frames"
    result = heirloom(
        "diffuse", "generate", "-o", str(out), "--steps", "6", "--seed", "3", "--count", "2",
        "--previews", str(frames), "--gif", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("sample_1.png", "sample_2.png"):
        assert np.abs(read(tmp_path / name) - target_image()).max() <= 1 / 255
    assert sorted(p.name for p in frames.glob("frame_*.png")) == [
        f"frame_{i:04d}.png" for i in range(1, 7)
    ]
    with Image.open(frames / "denoising.gif") as gif:  # a preview is the batch as a grid
        assert gif.size == (2 * SIZE, SIZE)
    assert not [p for p in frames.iterdir() if p.name.startswith(".")]  # no staging left
    assert "6 model calls" in result.stdout  # both images in each call


def test_inpaint_and_edit_keep_the_unmasked_pixels(home: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    photo = (rng.random((SIZE + 8, SIZE + 4, 3)) * 255).astype(np.uint8)
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[6:12, 3:15] = 255
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    hole = mask > 0
    for command, extra in (("inpaint", ["--steps", "10"]), ("edit", ["--strength", "0.6"])):
        out = tmp_path / f"{command}.png"
        result = heirloom(
            "diffuse", command, str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"),
            "-o", str(out), "--seed", "1", *extra, home=home,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        changed = np.asarray(Image.open(out))
        assert np.array_equal(changed[~hole], photo[~hole]), command
        assert np.abs(changed[hole].astype(int) - photo[hole]).mean() > 10, command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--steps", "0"], "--steps: must be between 1 and 1000, not 0"),
        (["generate", "--steps", "1001"], "--steps: must be between 1 and 1000, not 1001"),
        (["edit", "{photo}", "--strength", "1.5"], "greater than 0 and at most 1, not 1.5"),
        (["inpaint", "{photo}", "--mask", "{empty}"], "the mask is empty"),
        (["inpaint", "{small}", "--mask", "{small}"], "smaller than the 16x16 px"),
        (["generate", "--gif"], "--gif needs --previews"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_file(
    home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    Image.fromarray(np.full((SIZE, SIZE, 3), 90, np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray(np.zeros((SIZE, SIZE), np.uint8)).save(tmp_path / "empty.png")
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "small.png")
    names = {k: str(tmp_path / f"{k}.png") for k in ("photo", "empty", "small")}
    out = tmp_path / "out.png"
    result = heirloom("diffuse", *[a.format(**names) for a in args], "-o", str(out), home=home)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()

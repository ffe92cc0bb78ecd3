"""``heirloom fill``, ``heirloom colorize`` and ``restore --face-model`` as users run them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from commands import heirloom
from engine import arrays
from engine.images import ImageMeta, load_image, save_image
from graphs import colorize_pack, face_restore_pack, fill_pack

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "old_LadyBird.jpg"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A per-user folder with tiny fill, colorize and face-restore packs installed."""
    home = tmp_path / "home"
    fill_pack(home / "models")
    colorize_pack(home / "models")
    face_restore_pack(home / "models")
    return home


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mask(tmp_path: Path, shape: tuple[int, int]) -> tuple[Path, np.ndarray]:
    mask = np.zeros(shape, np.float32)
    mask[60:90, 100:170] = 1.0
    return save_image(tmp_path / "mask.png", mask), mask > 0.5


def test_fill_writes_back_every_pixel_outside_the_mask(home: Path, tmp_path: Path) -> None:
    source = save_image(tmp_path / "photo.png", load_image(SAMPLE).pixels, bit_depth=16)
    before = _digest(source)
    photo = load_image(source)
    mask_path, mask = _mask(tmp_path, (photo.height, photo.width))
    out = tmp_path / "filled.png"
    done = heirloom("fill", source, "--mask", mask_path, "-o", out, "-q", home=home)
    assert done.returncode == 0, done.stderr
    assert "tiny-fill" in done.stdout
    result = load_image(out)
    assert result.meta.bit_depth == 16
    assert np.array_equal(result.pixels[~mask], photo.pixels[~mask])
    assert abs(float(np.median(result.pixels[mask])) - 0.5) < 0.02
    assert _digest(source) == before


@pytest.mark.parametrize(
    ("mask_shape", "message"),
    [((20, 20), "they must be the same size"), (None, "the mask is empty")],
)
def test_fill_bad_masks_are_one_line(home: Path, tmp_path: Path, mask_shape, message) -> None:
    photo = load_image(SAMPLE)
    shape = mask_shape or (photo.height, photo.width)
    mask = save_image(tmp_path / "m.png", np.zeros(shape, np.float32))
    out = tmp_path / "filled.png"
    done = heirloom("fill", SAMPLE, "--mask", mask, "-o", out, home=home)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_fill_without_a_pack_says_how_to_get_one(tmp_path: Path) -> None:
    photo = load_image(SAMPLE)
    mask_path, _ = _mask(tmp_path, (photo.height, photo.width))
    done = heirloom("fill", SAMPLE, "--mask", mask_path, "-o", tmp_path / "o.png", home=tmp_path)
    assert done.returncode == 2 and "no model pack for 'fill'" in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_colorize_keeps_the_luminance_of_a_gray_scan(home: Path, tmp_path: Path) -> None:
    gray = arrays.luma(load_image(SAMPLE).pixels)
    source = save_image(tmp_path / "scan.png", gray, meta=ImageMeta(dpi=(600.0, 600.0)))
    out = tmp_path / "colour.png"
    done = heirloom("colorize", source, "-o", out, "-q", home=home)
    assert done.returncode == 0, done.stderr
    assert "tiny-colorize" in done.stdout
    result = load_image(out)
    assert result.pixels.shape == (*gray.shape, 3)
    assert np.abs(arrays.luma(result.pixels) - load_image(source).pixels[..., 0]).max() <= 1 / 255
    assert result.meta.dpi is not None and round(result.meta.dpi[0]) == 600


def test_colorize_of_a_non_image_is_one_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    done = heirloom("colorize", bad, "-o", tmp_path / "out.png", home=home)
    assert done.returncode == 2
    assert done.stderr.startswith("heirloom: error:") and "Traceback" not in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_restore_refuses_a_face_model_that_is_not_one(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "restored.png"
    done = heirloom("restore", SAMPLE, "-o", out, "--face-model", "tiny-fill", home=home)
    assert done.returncode == 2
    assert "the face pass takes a face-enhance or face-restore pack" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and not out.exists()

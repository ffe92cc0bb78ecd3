"""``heirloom upscale`` and ``heirloom restore --upscale / --restore-model`` as users run them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from commands import heirloom
from engine.images import ImageMeta, load_image, save_image
from graphs import denoise_pack, upscale_pack

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "old_LadyBird.jpg"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A per-user folder with a tiny x2 upscaler and a tiny denoiser installed."""
    home = tmp_path / "home"
    upscale_pack(home / "models")
    denoise_pack(home / "models")
    return home


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upscale_doubles_a_real_photo_and_leaves_it_untouched(home: Path, tmp_path: Path) -> None:
    before = _digest(SAMPLE)
    out = tmp_path / "big.png"
    done = heirloom("upscale", SAMPLE, "-o", out, "-q", "--tile", "128", home=home)
    assert done.returncode == 0, done.stderr
    assert "x2" in done.stdout and "tiny-upscale" in done.stdout
    source, result = load_image(SAMPLE), load_image(out)
    assert (result.height, result.width) == (2 * source.height, 2 * source.width)
    assert _digest(SAMPLE) == before


def test_sixteen_bits_alpha_and_dpi_survive(home: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.random((40, 56, 3)).astype(np.float32)
    alpha = np.zeros((40, 56), np.float32)
    alpha[8:32, 8:48] = 1.0
    source = save_image(
        tmp_path / "cutout.png",
        pixels,
        meta=ImageMeta(dpi=(300.0, 300.0)),
        alpha=alpha,
        bit_depth=16,
    )
    out = tmp_path / "cutout_x2.png"
    done = heirloom("upscale", source, "-o", out, "-q", home=home)
    assert done.returncode == 0, done.stderr
    result = load_image(out)
    assert result.meta.bit_depth == 16
    assert result.alpha is not None and result.alpha.shape == (80, 112)
    assert result.alpha[20:60, 20:90].min() > 0.99 and result.alpha[:10].max() < 0.01
    assert result.meta.dpi is not None and round(result.meta.dpi[0]) == 600


def test_no_upscale_pack_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "big.png"
    done = heirloom("upscale", SAMPLE, "-o", out, home=tmp_path / "empty")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "no model pack for 'upscale'" in done.stderr
    assert not out.exists()


def test_a_file_that_is_not_an_image_is_one_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    done = heirloom("upscale", bad, "-o", tmp_path / "out.png", home=home)
    assert done.returncode == 2
    assert done.stderr.startswith("heirloom: error:") and "Traceback" not in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_restore_with_a_denoiser_then_upscaled(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "restored.png"
    done = heirloom(
        "restore", SAMPLE, "-o", out, "--scratches", "off", "--no-faces",
        "--restore-model", "tiny-denoise", "--upscale", "tiny-upscale", "-q", home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "restored with tiny-denoise" in done.stdout and "upscaled x2" in done.stdout
    source, result = load_image(SAMPLE), load_image(out)
    assert (result.height, result.width) == (2 * source.height, 2 * source.width)


def test_restore_refuses_a_denoiser_as_upscaler_before_any_work(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "restored.png"
    done = heirloom(
        "restore", SAMPLE, "-o", out, "--scratches", "off", "--upscale", "tiny-denoise",
        home=home,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is a denoise model, not upscale" in done.stderr
    assert not out.exists()


def test_importing_a_missing_checkpoint_is_one_line(home: Path, tmp_path: Path) -> None:
    done = heirloom("models", "import", tmp_path / "absent.pth", home=home)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"heirloom: error: checkpoint '{tmp_path / 'absent.pth'}' does not exist"
    )


def test_importing_a_checkpoint_without_torch_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from engine.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    monkeypatch.setenv("HEIRLOOM_HOME", str(tmp_path / "home"))
    checkpoint = tmp_path / "RealESRGAN_x4plus.pth"
    checkpoint.write_bytes(b"weights")
    assert main(["models", "import", str(checkpoint)]) == 2
    line = capsys.readouterr().err.strip()
    assert line == (
        "heirloom: error: importing a checkpoint needs torch, which this installation "
        "lacks; install with: pip install 'heirloom[train]' (torch and spandrel)"
    )
    assert not (tmp_path / "home" / "models").exists()

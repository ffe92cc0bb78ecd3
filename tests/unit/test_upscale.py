"""Upscaling through the pack adapter: tiles placed at the output's scale, no seams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import HeirloomError, PackError
from engine.images import ImageMeta, load_image
from engine.models import Registry, SizeRule
from engine.pipelines.restore import RestoreOptions, restore_photo
from engine.pipelines.upscale import (
    UpscaleOptions,
    check_output_size,
    enlarged_meta,
    upscale_image,
)
from engine.tiling import run_tiled
from graphs import denoise_pack, upscale_pack

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    models = tmp_path / "models"
    upscale_pack(models)
    denoise_pack(models)
    return Registry(bundled=tmp_path / "none", user=models)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real old photo, cropped to an awkward size so tiles do not divide it evenly."""
    return load_image(SAMPLES / "old_LadyBird.jpg").pixels[:301, :397]


def test_run_tiled_places_scaled_tiles_where_their_input_was() -> None:
    image = np.random.default_rng(0).random((50, 70, 3)).astype(np.float32)

    def nearest_x3(batch: np.ndarray) -> np.ndarray:
        return batch.repeat(3, axis=2).repeat(3, axis=3)

    tiled = run_tiled(nearest_x3, image, SizeRule(), tile=24, overlap=8)
    assert tiled.shape == (150, 210, 3)
    np.testing.assert_allclose(tiled, image.repeat(3, axis=0).repeat(3, axis=1), atol=1e-6)


def test_run_tiled_refuses_an_output_that_is_not_a_whole_multiple() -> None:
    image = np.zeros((20, 20, 3), np.float32)
    with pytest.raises(ValueError, match="whole multiple"):
        run_tiled(lambda b: b[:, :, :-1], image, SizeRule(), tile=64)


def test_tiled_upscale_matches_one_whole_run_on_a_real_photo(
    registry: Registry, photo: np.ndarray
) -> None:
    whole = upscale_image(photo, UpscaleOptions(tile=1024), registry=registry)
    tiled = upscale_image(photo, UpscaleOptions(tile=64), registry=registry)
    assert tiled.info["scale"] == 2 and tiled.info["tile"] == 64
    out = tiled.images["upscaled"]
    assert out.shape == (602, 794, 3)
    # no seam: every pixel, tile borders included, is what the untiled run gives
    assert float(np.abs(out - whole.images["upscaled"]).max()) < 1e-5
    assert float(out.std()) > 0.01  # a real picture came out, not a constant


def test_gray_photos_come_back_gray_and_scaled(registry: Registry, photo: np.ndarray) -> None:
    gray = photo.mean(axis=2, keepdims=True)
    out = upscale_image(gray, registry=registry).images["upscaled"]
    assert out.shape == (602, 794, 1)


def test_without_an_upscale_pack_the_error_says_how_to_get_one(tmp_path: Path) -> None:
    empty = Registry(bundled=tmp_path / "none", user=tmp_path / "models")
    with pytest.raises(PackError, match="no model pack for 'upscale'"):
        upscale_image(np.zeros((32, 32, 3), np.float32), registry=empty)


def test_a_pack_of_another_task_is_refused(registry: Registry) -> None:
    with pytest.raises(PackError, match="denoise model, not upscale"):
        upscale_image(
            np.zeros((32, 32, 3), np.float32),
            UpscaleOptions("tiny-denoise"),
            None,
            registry=registry,
        )


def test_an_output_too_large_to_hold_is_refused_before_work() -> None:
    with pytest.raises(HeirloomError, match="more than Heirloom can hold"):
        check_output_size(12000, 9000, 4)
    check_output_size(3000, 2000, 4)


def test_dpi_grows_with_the_scale_so_the_print_size_stays() -> None:
    assert enlarged_meta(ImageMeta(dpi=(300.0, 300.0)), 4).dpi == (1200.0, 1200.0)
    assert enlarged_meta(ImageMeta(), 4).dpi is None


def test_restore_can_use_a_denoiser_and_upscale_last(registry: Registry) -> None:
    image = np.random.default_rng(1).random((40, 48, 3)).astype(np.float32)
    options = RestoreOptions(
        scratches="off", faces=False, restorer="tiny-denoise", upscale="tiny-upscale"
    )
    result = restore_photo(image, options, registry=registry)
    assert result.info["model"] == "tiny-denoise"
    assert result.info["upscaled"] == "x2 with tiny-upscale"
    assert result.images["restored"].shape == (80, 96, 3)
    assert result.images["mask"].shape == (40, 48)


def test_restore_refuses_an_upscaler_as_its_network(registry: Registry) -> None:
    options = RestoreOptions(scratches="off", restorer="tiny-upscale")
    with pytest.raises(PackError, match="restore stage takes a restore or denoise pack"):
        restore_photo(np.zeros((32, 32, 3), np.float32), options, registry=registry)

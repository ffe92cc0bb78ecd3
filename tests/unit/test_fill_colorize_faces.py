"""The pipelines that run imported packs: fill (LaMa), colorize (DDColor, ours) and the
face pass with a face-restore pack (GFPGAN & co.), on real photos with tiny real graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook

from engine import arrays
from engine.errors import HeirloomError, PackError
from engine.images import load_image, save_image
from engine.models import BUNDLED_DIR, Registry, TensorSpec, write_pack
from engine.ops import faces as face_ops
from engine.pipelines.colorize import ColorizeOptions, colorize_photo, with_luma
from engine.pipelines.fill import crop_box, fill_photo
from engine.pipelines.restore import RestoreOptions, restore_photo
from graphs import (
    build_blur_restorer,
    colorize_pack,
    face_restore_pack,
    fill_pack,
    restore_packs,
    tiny_manifest,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    models = tmp_path / "models"
    fill_pack(models)
    colorize_pack(models)
    return Registry(bundled=tmp_path / "none", user=models)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_image(SAMPLES / "old_LadyBird.jpg").pixels[:301, :397]


# --- fill ----------------------------------------------------------------------


def test_fill_changes_the_mask_only_and_fills_it(registry: Registry, photo: np.ndarray) -> None:
    mask = np.zeros(photo.shape[:2], bool)
    mask[120:150, 200:260] = True
    mask[140:143, 10:380] = True  # a long thin scratch: the crop is most of the photo
    result = fill_photo(photo, mask, registry=registry)
    out = result.images["filled"]
    assert out.shape == photo.shape and out.dtype == np.float32
    assert np.array_equal(out[~mask], photo[~mask])  # pixel for pixel
    # the tiny pack paints the hole 0.5 grey; resizing the crop only blurs its rim
    assert abs(float(np.median(out[125:145, 205:255])) - 0.5) < 0.02


def test_fill_crop_has_context_and_stays_in_the_photo() -> None:
    mask = np.zeros((200, 300), bool)
    mask[10:20, 280:290] = True
    y0, y1, x0, x1 = crop_box(mask)
    assert (y0, x1) == (0, 300)  # clipped at the photo's edge
    assert y1 - 20 >= 32 and 280 - x0 >= 32  # at least MIN_CONTEXT around the hole


def test_fill_on_a_large_crop_runs_at_the_working_size(registry, photo) -> None:
    mask = np.zeros(photo.shape[:2], bool)
    mask[50:250, 50:350] = True
    result = fill_photo(photo, mask, registry=registry)
    assert max(result.info["working_size"]) <= 512
    assert np.array_equal(result.images["filled"][~mask], photo[~mask])


def test_fill_gray_photos_stay_gray(registry: Registry, photo: np.ndarray) -> None:
    gray = arrays.luma(photo)[..., None]
    mask = np.zeros(gray.shape[:2], bool)
    mask[100:120, 100:120] = True
    out = fill_photo(gray, mask, registry=registry).images["filled"]
    assert out.shape == gray.shape
    assert np.array_equal(out[~mask], gray[~mask])


@pytest.mark.parametrize(
    ("mask", "message"),
    [(np.zeros((301, 397), bool), "mask is empty"), (np.ones((30, 30), bool), "same size")],
)
def test_fill_refuses_bad_masks_in_one_line(registry, photo, mask, message) -> None:
    with pytest.raises(HeirloomError, match=message):
        fill_photo(photo, mask, registry=registry)


def test_fill_without_a_pack_says_how_to_get_one(tmp_path: Path, photo: np.ndarray) -> None:
    empty = Registry(bundled=tmp_path / "none", user=tmp_path / "models")
    mask = np.zeros(photo.shape[:2], bool)
    mask[:20, :20] = True
    with pytest.raises(PackError, match="no model pack for 'fill'"):
        fill_photo(photo, mask, registry=empty)


# --- colorize --------------------------------------------------------------------


def test_colorize_keeps_luminance_within_one_level(
    registry: Registry, photo: np.ndarray, tmp_path: Path
) -> None:
    gray = arrays.luma(photo)[..., None]
    result = colorize_photo(gray, registry=registry)
    out = result.images["colorized"]
    assert out.shape == (*gray.shape[:2], 3)
    assert result.info["working_size"] == (256, 192)  # long side 256, multiples of 16
    # written as an 8-bit file and read back, as a user gets it
    save_image(tmp_path / "c.png", out, bit_depth=8)
    saved = load_image(tmp_path / "c.png").pixels
    assert np.abs(arrays.luma(saved) - gray[..., 0]).max() <= 1.0 / 255
    # and it has colour: the tint is warm wherever the gray left room for it
    mid = (gray[..., 0] > 0.2) & (gray[..., 0] < 0.8)
    assert float((saved[..., 0] - saved[..., 2])[mid].mean()) > 0.2


def test_out_of_gamut_colour_is_shortened_not_clipped_away_from_the_luma() -> None:
    luma = np.array([[0.02, 0.5, 0.98]], np.float32)
    offsets = np.tile(np.array([0.4, -0.1, -0.6], np.float32), (1, 3, 1))
    offsets -= arrays.luma(offsets)[..., None]
    out = with_luma(luma, offsets)
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(arrays.luma(out), luma, atol=1e-6)
    assert out[0, 1, 0] > out[0, 1, 2]  # the middle pixel keeps its colour


def test_colorize_refuses_tiny_photos_and_other_tasks(registry: Registry) -> None:
    with pytest.raises(HeirloomError, match="at least 16"):
        colorize_photo(np.zeros((8, 40, 1), np.float32), registry=registry)
    with pytest.raises(PackError, match="is a fill model, not colorize"):
        colorize_photo(
            np.zeros((40, 40, 1), np.float32), ColorizeOptions(model="tiny-fill"), registry=registry
        )


# --- faces ------------------------------------------------------------------------


def test_face_restore_pack_changes_the_face_region_only(tmp_path: Path) -> None:
    models = restore_packs(tmp_path)
    face_restore_pack(models)
    write_pack(  # a mild blur keeps the face detectable after the global stage
        models / "blur",
        build_blur_restorer(tmp_path / "blur.onnx"),
        tiny_manifest(
            "blur",
            task="restore",
            inputs=(TensorSpec("image", "NCHW", 3), TensorSpec("mask", "NCHW", 1)),
            outputs=(TensorSpec("restored", "NCHW", 3),),
        ),
        "# blur\n",
    )
    registry = Registry(BUNDLED_DIR, models)
    portrait = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).pixels
    options = RestoreOptions(scratches="off", restorer="blur", face_model="tiny-face-restore")
    with_face = restore_photo(portrait, options, registry=registry)
    assert with_face.info["face_method"] == "tiny-face-restore"
    (box,) = with_face.info["faces"]
    plain = restore_photo(
        portrait, RestoreOptions(scratches="off", restorer="blur", faces=False), registry=registry
    )
    diff = np.abs(with_face.images["restored"] - plain.images["restored"]).max(axis=2)
    x0, y0, x1, y1 = (int(v) for v in box)
    assert diff[y0:y1, x0:x1].mean() > 0.1  # the negated face is in
    # the aligned 512 crop covers about twice the face box; nothing beyond it changed
    w, h = x1 - x0, y1 - y0
    outside = np.ones_like(diff, bool)
    outside[max(0, y0 - h) : y1 + h, max(0, x0 - w) : x1 + w] = False
    assert diff[outside].max() == 0


def test_face_pass_aligns_to_the_ffhq_template_for_face_restore_packs() -> None:
    points = face_ops.template_points(512, face_ops.FFHQ_TEMPLATE)
    np.testing.assert_allclose(points[0], (192.98138, 239.94708), atol=1e-4)


def test_a_named_face_model_of_another_task_is_refused_before_any_work(tmp_path: Path) -> None:
    models = restore_packs(tmp_path)
    registry = Registry(BUNDLED_DIR, models)
    photo = np.zeros((64, 64, 3), np.float32)
    with pytest.raises(PackError, match="the face pass takes"):
        restore_photo(photo, RestoreOptions(face_model="tiny-restore"), registry=registry)

from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook

from engine.cancel import CancelToken
from engine.errors import Cancelled, HeirloomError, PackError
from engine.images import load_image
from engine.jobs import Emitter, Preview, Progress
from engine.models import BUNDLED_DIR, Registry, TensorSpec, Tiling, write_pack
from engine.ops.blend import blend_restoration, fit_tone
from engine.ops.prepass import fill_and_denoise
from engine.pipelines.restore import RestoreOptions, detect_scratches, restore_photo
from graphs import build_blur_restorer, build_prepass_restorer, restore_packs, tiny_manifest

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def registry(tmp_path):
    return Registry(tmp_path / "no-bundled", restore_packs(tmp_path))


@pytest.fixture
def photo():
    return load_image(SAMPLES / "old_EveningGlow.jpg").pixels[:300, :420].copy()


def _prepass_pack(tmp_path: Path) -> Path:
    """A models folder with a restore pack that asks for the pre-pass and returns it."""
    models = tmp_path / "models"
    write_pack(
        models / "prepass-restore",
        build_prepass_restorer(tmp_path / "p.onnx"),
        tiny_manifest(
            "prepass-restore",
            task="restore",
            inputs=(
                TensorSpec("image", "NCHW", 3, "float32", (0.0, 1.0)),
                TensorSpec("mask", "NCHW", 1, "float32", (0.0, 1.0)),
                TensorSpec("prepass", "NCHW", 3, "float32", (0.0, 1.0)),
            ),
            outputs=(TensorSpec("restored", "NCHW", 3, "float32", (0.0, 1.0)),),
            tiling=Tiling(True, 64, 256),
        ),
        "# prepass\n",
    )
    return models


def _blur_pack(tmp_path: Path, models: Path, **options: float) -> None:
    """Write the "blur" restore pack (a mild box blur) into ``models``."""
    write_pack(
        models / "blur",
        build_blur_restorer(tmp_path / "blur.onnx"),
        tiny_manifest(
            "blur",
            task="restore",
            inputs=(TensorSpec("image", "NCHW", 3), TensorSpec("mask", "NCHW", 1)),
            outputs=(TensorSpec("restored", "NCHW", 3),),
            tiling=Tiling(True, 8, 64),
            options=options,
        ),
        "# blur\n",
    )


def recorder():
    events = []
    return events, Emitter(events.append, preview_interval=0.0)


def test_detection_works_at_a_capped_resolution_and_returns_full_size(registry, photo):
    events, emit = recorder()
    result = detect_scratches(photo, RestoreOptions(), emit, registry=registry)
    assert result.images["prob"].shape == photo.shape[:2]
    assert result.images["mask"].dtype == bool and result.images["mask"].shape == photo.shape[:2]
    assert result.info["working_size"] == (256, 183)  # working_long_side 256 in the manifest
    assert result.info["device"].startswith("CPU")
    assert any(isinstance(e, Preview) for e in events)
    low = detect_scratches(photo, RestoreOptions(threshold=0.2), registry=registry)
    high = detect_scratches(photo, RestoreOptions(threshold=0.8), registry=registry)
    assert low.images["mask"].sum() >= high.images["mask"].sum()


def test_restore_keeps_size_and_grayscale_and_reports_stages(registry, photo):
    gray = photo[..., :1].copy()
    before = gray.copy()
    events, emit = recorder()
    result = restore_photo(gray, RestoreOptions(faces=False), emit, registry=registry)
    assert result.images["restored"].shape == gray.shape  # gray stays gray
    assert np.array_equal(gray, before)  # the input array is untouched
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    labels = [e.label for e in events if isinstance(e, Preview)]
    assert "damage" in labels and "global restoration" in labels
    coloured = restore_photo(gray, RestoreOptions(faces=False, colour=True), registry=registry)
    assert coloured.images["restored"].shape == gray.shape[:2] + (3,)


def test_a_given_mask_replaces_detection_and_must_match_the_photo(registry, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[100:110, :] = 1
    result = restore_photo(photo, RestoreOptions(mask=mask, faces=False), registry=registry)
    assert result.info["mask"] == "given" and "prob" not in result.images
    assert result.images["mask"].sum() == 10 * photo.shape[1]
    with pytest.raises(HeirloomError, match="must be the same size"):
        restore_photo(photo, RestoreOptions(mask=mask[:50], faces=False), registry=registry)
    off = restore_photo(photo, RestoreOptions(scratches="off", faces=False), registry=registry)
    assert not off.images["mask"].any()


def test_tiled_restoration_has_no_seams(registry, photo):
    whole = restore_photo(photo, RestoreOptions(scratches="off", faces=False), registry=registry)
    tiled = restore_photo(
        photo, RestoreOptions(scratches="off", faces=False, tile=96), registry=registry
    )
    assert np.abs(whole.images["restored"] - tiled.images["restored"]).max() < 1e-3


def test_missing_packs_and_tiny_photos_are_clear_errors(tmp_path, photo):
    empty = Registry(tmp_path / "a", tmp_path / "b")
    with pytest.raises(PackError, match="no model pack for 'restore' is installed"):
        restore_photo(photo, registry=empty)
    with pytest.raises(HeirloomError, match="at least 16 pixels"):
        restore_photo(photo[:10, :10], registry=empty)


def test_cancel_stops_the_job(registry, photo):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        restore_photo(photo, RestoreOptions(faces=False), cancel=token, registry=registry)


def test_faces_are_found_and_refined_on_a_real_portrait(tmp_path):
    models = restore_packs(tmp_path)
    _blur_pack(tmp_path, models)
    registry = Registry(BUNDLED_DIR, models)
    portrait = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).pixels
    result = restore_photo(
        portrait, RestoreOptions(scratches="off", restorer="blur"), registry=registry
    )
    assert len(result.info["faces"]) == 1
    assert result.info["face_method"] == "second blur pass at face scale"
    x0, y0, x1, y1 = result.info["faces"][0]
    plain = restore_photo(
        portrait,
        RestoreOptions(scratches="off", faces=False, restorer="blur"),
        registry=registry,
    )
    diff = np.abs(result.images["restored"] - plain.images["restored"]).mean(axis=2)
    inside = diff[int(y0) : int(y1), int(x0) : int(x1)].mean()
    assert inside > 10 * diff[:40, :40].mean()  # the face pass changed the face, not the corner


def test_strength_blends_outside_the_damage_only(registry, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[100:104, :] = 1
    full = restore_photo(photo, RestoreOptions(mask=mask, faces=False), registry=registry)
    half = restore_photo(
        photo, RestoreOptions(mask=mask, faces=False, strength=0.5), registry=registry
    )
    full_out, half_out = full.images["restored"], half.images["restored"]
    assert np.allclose(half_out[100:104], full_out[100:104])  # damage: always restored
    away = np.s_[:80]
    assert np.allclose(half_out[away], (photo[away] + full_out[away]) / 2, atol=1e-6)
    with pytest.raises(HeirloomError, match="strength must be between 0 and 1"):
        restore_photo(photo, RestoreOptions(strength=1.5), registry=registry)


def test_a_pack_asking_for_the_prepass_gets_the_classical_fill_per_tile(tmp_path, photo):
    registry = Registry(tmp_path / "no-bundled", _prepass_pack(tmp_path))
    damaged = photo.copy()
    damaged[140:144, 30:400] = 1.0  # a bright scratch
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[140:144, 30:400] = 1
    options = RestoreOptions(mask=mask, faces=False, strength=1.0)
    whole = restore_photo(damaged, options, registry=registry).images["restored"]
    assert np.abs(whole - fill_and_denoise(damaged, mask > 0)).max() < 1.5 / 255
    assert whole[140:144, 30:400].mean() < 0.9  # the scratch is filled from its border
    tiled = restore_photo(
        damaged, RestoreOptions(mask=mask, faces=False, strength=1.0, tile=128), registry=registry
    ).images["restored"]
    assert np.abs(whole - tiled).max() < 1.5 / 255  # both filters are local: no seams


def test_fit_tone_recovers_a_photo_wide_gain_and_offset(photo):
    gain, offset = np.array([0.8, 0.9, 1.1], np.float32), np.array([0.05, -0.02, 0.0], np.float32)
    keep = np.ones(photo.shape[:2], bool)
    keep[100:110] = False  # damaged rows do not vote
    restored = photo * gain + offset
    restored[100:110] = 0.0
    got_gain, got_offset = fit_tone(photo, restored, keep)
    assert np.allclose(got_gain, gain, atol=1e-4) and np.allclose(got_offset, offset, atol=1e-4)
    flat = np.full_like(photo, 0.5)  # no spread to fit a gain on: the identity
    assert np.allclose(fit_tone(flat, flat + 0.1, keep)[0], 1.0)


def test_the_tone_blend_takes_the_photo_wide_tone_and_weighs_the_detail_apart(photo):
    mask = np.zeros(photo.shape[:2], bool)
    mask[150:153, 20:300] = True
    rng = np.random.default_rng(0)
    tone = photo * np.float32(0.85) + np.float32(0.06)
    texture = rng.normal(0, 0.02, photo.shape).astype(np.float32)
    restored = np.clip(tone + texture, 0, 1)
    grown = np.zeros_like(mask)
    grown[148:155, 18:302] = True  # DAMAGE_GROW (2 px) around the mask
    tone_only = blend_restoration(photo, restored, mask, strength=1.0, detail=0.0)
    assert np.array_equal(tone_only[grown], restored[grown])  # damage: the restoration
    assert np.abs(tone_only - tone)[~grown].max() < 0.01  # elsewhere its tone, no texture
    nothing = blend_restoration(photo, restored, mask, strength=0.0, detail=0.0)
    assert np.array_equal(nothing[~grown], photo[~grown])
    plain = blend_restoration(photo, restored, mask, strength=0.5)
    same = blend_restoration(photo, restored, mask, strength=0.5, detail=0.5)
    assert np.array_equal(plain, same)
    half_detail = blend_restoration(photo, restored, mask, strength=1.0, detail=0.5)
    assert np.allclose(
        half_detail[~grown], (tone_only + np.clip(restored, 0, 1))[~grown] / 2, atol=0.01
    )


def test_a_pack_with_detail_strength_blends_by_tone_and_the_user_can_turn_it_off(tmp_path, photo):
    models = tmp_path / "models"
    _blur_pack(tmp_path, models, global_strength=1.0, detail_strength=0.0)
    registry = Registry(tmp_path / "no-bundled", models)
    options = RestoreOptions(scratches="off", faces=False, restorer="blur")
    out = restore_photo(photo, options, registry=registry).images["restored"]
    # outside the damage: one gain and offset per channel of the photo, none of the blur
    for c in range(3):
        fitted = np.polyval(
            np.polyfit(photo[..., c].ravel(), out[..., c].ravel(), 1), photo[..., c]
        )
        assert np.abs(out[..., c] - fitted).max() < 1e-4
    assert np.abs(out - photo).max() > 1e-3  # the tone did move
    off = RestoreOptions(scratches="off", faces=False, restorer="blur", strength=0.0)
    assert np.array_equal(restore_photo(photo, off, registry=registry).images["restored"], photo)


def test_smoothing_keeps_the_photos_grain_outside_the_damage(tmp_path, photo):
    registry = Registry(tmp_path / "no-bundled", _prepass_pack(tmp_path))
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[140:144, 30:400] = 1

    def restored(smoothing: float) -> np.ndarray:
        options = RestoreOptions(mask=mask, faces=False, strength=0.0, smoothing=smoothing)
        return restore_photo(photo, options, registry=registry).images["restored"]

    away = np.s_[:100]
    prepass = fill_and_denoise(photo, mask > 0)
    assert np.abs(restored(1.0)[away] - prepass[away]).max() < 1.5 / 255  # denoised
    assert np.array_equal(restored(0.0)[away], photo[away])  # the photo's own grain
    half = restored(0.5)[away]
    assert np.abs(half - (photo[away] + prepass[away]) / 2).max() < 1.5 / 255
    inside = np.s_[141, 40:390]
    assert np.abs(restored(0.0)[inside] - prepass[inside]).max() < 1.5 / 255  # damage: filled
    with pytest.raises(HeirloomError, match="smoothing must be between 0 and 1"):
        restored(1.5)

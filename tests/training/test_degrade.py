"""Synthetic old-photo degradation: masks, ranges, reproducibility, speed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.data import degrade as dg

LOCAL_OPS = [dg.scratches, dg.dust, dg.blotches]
GLOBAL_OPS = [
    dg.grayscale,
    dg.sepia,
    dg.colour_cast,
    dg.fade,
    dg.contrast_loss,
    dg.paper_texture,
    dg.film_grain,
    dg.gaussian_blur,
    dg.gaussian_noise,
    dg.speckle_noise,
    dg.salt_pepper_noise,
    dg.downscale_upscale,
    dg.jpeg,
]


def _photo(h: int = 160, w: int = 192, lo: float = 0.0, hi: float = 1.0, seed: int = 0):
    """A colourful textured test image in [lo, hi] (edges, gradients and fine detail)."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w, 3), np.float32), (0, 0), 3)
    base = (base - base.min()) / (base.max() - base.min())
    detail = rng.random((h, w, 3), np.float32) * 0.3
    img = 0.7 * base + detail
    img = (img - img.min()) / (img.max() - img.min())
    return (lo + (hi - lo) * img).astype(np.float32)


@pytest.mark.parametrize("op", LOCAL_OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask_covers_exactly_the_drawn_damage(op, seed):
    # Mid-tone image: every damage colour (bright >= 0.76, dark <= 0.45) differs from it.
    img = _photo(lo=0.5, hi=0.7, seed=seed)
    out, mask = op(img, np.random.default_rng(seed))
    assert mask.shape == img.shape[:2] and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    inside = mask > 0
    assert inside.any(), "a local-damage op must draw something"
    np.testing.assert_array_equal(out[~inside], img[~inside])
    changed = np.abs(out - img).max(axis=2) > 1e-3
    assert changed[inside].all()


def test_scratches_are_thin_and_both_bright_and_dark():
    img = _photo(256, 256, 0.4, 0.6)
    brights = darks = 0
    for seed in range(10):
        out, mask = dg.scratches(img, np.random.default_rng(seed))
        delta = (out - img).mean(axis=2)[mask > 0]
        brights += int((delta > 0).sum())
        darks += int((delta < 0).sum())
        # Thin strokes: opening with a 7x7 square (wider than 4 px + anti-aliased fringe
        # would need) leaves almost nothing.
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))
        assert opened.sum() <= 0.05 * mask.sum()
    assert brights > 0 and darks > 0


@pytest.mark.parametrize("op", LOCAL_OPS + GLOBAL_OPS, ids=lambda f: f.__name__)
def test_every_op_changes_the_image_and_keeps_range_and_dtype(op):
    img = _photo()
    before = img.copy()
    result = op(img, np.random.default_rng(3))
    out = result[0] if isinstance(result, tuple) else result
    np.testing.assert_array_equal(img, before)  # input untouched
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out - img).mean() > 1e-3 or np.abs(out - img).max() > 0.3


@pytest.mark.parametrize("seed", range(12))
def test_degrade_range_dtype_and_ops(seed):
    img = _photo()
    d = dg.degrade(img, np.random.default_rng(seed))
    assert d.image.shape == img.shape and d.image.dtype == np.float32
    assert d.image.min() >= 0.0 and d.image.max() <= 1.0
    assert d.mask.shape == img.shape[:2] and d.mask.dtype == np.float32
    assert set(np.unique(d.mask)) <= {0.0, 1.0}
    assert d.ops, "at least one degradation is always applied"
    assert not np.array_equal(d.image, img)
    local = {"scratches", "dust", "blotches"} & set(d.ops)
    assert bool(local) == bool(d.mask.any())


def test_degrade_damage_switch():
    img = _photo()
    for seed in range(5):
        off = dg.degrade(img, np.random.default_rng(seed), damage=False)
        assert not off.mask.any()
        assert not {"scratches", "dust", "blotches"} & set(off.ops)
        on = dg.degrade(img, np.random.default_rng(seed), damage=True)
        assert {"scratches", "dust"} <= set(on.ops) and on.mask.any()


def test_degrade_order_follows_print_then_ageing_then_scan():
    img = _photo()
    stages = [
        {"scratches", "dust", "blotches"},
        {
            "grayscale",
            "sepia",
            "colour_cast",
            "fade",
            "contrast_loss",
            "paper_texture",
            "film_grain",
        },
        {
            "gaussian_blur",
            "downscale_upscale",
            "gaussian_noise",
            "speckle_noise",
            "salt_pepper_noise",
            "jpeg",
        },
    ]
    for seed in range(20):
        ops = dg.degrade(img, np.random.default_rng(seed), strength=1.0).ops
        stage_of = [next(i for i, s in enumerate(stages) if op in s) for op in ops]
        assert stage_of == sorted(stage_of), ops


def test_degrade_is_reproducible_per_seed():
    img = _photo()
    a = dg.degrade(img, np.random.default_rng(42))
    b = dg.degrade(img, np.random.default_rng(42))
    c = dg.degrade(img, np.random.default_rng(43))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.ops == b.ops
    assert not np.array_equal(a.image, c.image)


def test_strength_scales_the_damage():
    img = _photo()

    def mean_change(strength: float) -> float:
        return float(
            np.mean(
                [
                    np.abs(
                        dg.degrade(img, np.random.default_rng(s), strength=strength).image - img
                    ).mean()
                    for s in range(16)
                ]
            )
        )

    assert mean_change(0.3) < mean_change(1.5)


def test_rejects_wrong_layout():
    with pytest.raises(ValueError):
        dg.degrade(np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError):
        dg.scratches(np.zeros((8, 8), np.float32), np.random.default_rng(0))

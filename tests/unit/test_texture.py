"""Big inpainted holes get the fine texture of the photo around them, not a flat block."""

from pathlib import Path

import cv2
import numpy as np

from engine import arrays
from engine.images import load_image
from engine.ops.texture import borrow_texture

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _detail_spread(image: np.ndarray, where: np.ndarray) -> float:
    gray = image.mean(axis=2)
    return float((gray - cv2.GaussianBlur(gray, (0, 0), 3))[where].std())


def _gravel_with_a_flat_hole() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The beach of a real photo with a torn corner filled by its mean colour."""
    photo = arrays.rgb(load_image(SAMPLES / "clean_EveningGlow.jpg").pixels)[-240:, -320:].copy()
    hole = np.zeros(photo.shape[:2], bool)
    hole[-120:, -160:] = True
    flat = photo.copy()
    flat[hole] = photo[~hole].mean(axis=0)
    return photo, flat, hole


def test_a_flat_fill_gets_the_surroundings_texture_and_keeps_its_colour() -> None:
    photo, flat, hole = _gravel_with_a_flat_hole()
    ring = arrays.dilate(hole, 30) & ~hole
    out = borrow_texture(photo, flat, hole, np.random.default_rng(0))
    assert np.array_equal(out[~hole], flat[~hole])  # nothing changes outside the hole
    around = _detail_spread(photo, ring)
    assert _detail_spread(flat, hole) < 0.2 * around  # only the hole's edge
    assert _detail_spread(out, hole) > 0.6 * around
    colour = cv2.GaussianBlur(out, (0, 0), 8)[hole].mean(axis=0)
    assert np.abs(colour - flat[hole].mean(axis=0)).max() < 0.02  # the fill's colour stays


def test_the_borrowed_texture_follows_the_seed() -> None:
    photo, flat, hole = _gravel_with_a_flat_hole()
    one = borrow_texture(photo, flat, hole, np.random.default_rng(1))
    again = borrow_texture(photo, flat, hole, np.random.default_rng(1))
    other = borrow_texture(photo, flat, hole, np.random.default_rng(2))
    assert np.array_equal(one, again)
    assert not np.array_equal(one, other)


def test_with_nothing_known_to_copy_from_the_fill_is_returned_as_is() -> None:
    photo, flat, _ = _gravel_with_a_flat_hole()
    almost_all = np.ones(photo.shape[:2], bool)
    almost_all[:4] = False  # known rows too thin for a whole block
    out = borrow_texture(photo, flat, almost_all, np.random.default_rng(0))
    assert np.array_equal(out, flat)

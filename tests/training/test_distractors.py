"""Non-damage structures for the scratch detector, and its precision-first operating point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.images import load_image
from training.data.distractors import DISTRACTORS, add_distractors
from training.eval.cases import Case
from training.train_scratch import MIN_PRECISION, false_alarms, operating_point

PHOTO = Path(__file__).resolve().parents[2] / "resources" / "samples" / "clean_LadyBird.jpg"


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    return np.ascontiguousarray(load_image(PHOTO).pixels[100:356, 300:556])


@pytest.mark.parametrize("draw", DISTRACTORS, ids=lambda f: f.__name__)
def test_each_structure_draws_thin_visible_detail_and_leaves_the_input_alone(draw, crop):
    before = crop.copy()
    out = draw(crop, np.random.default_rng(5))
    assert np.array_equal(crop, before)  # drawn on a copy
    assert out.shape == crop.shape and out.dtype == np.float32
    changed = np.abs(out - crop).max(axis=2) > 0.1
    assert 0.0005 < changed.mean() < 0.25  # visible, but thin: not a painted-over region


def test_add_distractors_is_reproducible_and_in_range(crop):
    a = add_distractors(crop, np.random.default_rng(1), 2)
    b = add_distractors(crop, np.random.default_rng(1), 2)
    assert np.array_equal(a, b) and a.min() >= 0.0 and a.max() <= 1.0


def _case(mask: np.ndarray) -> Case:
    image = np.zeros(mask.shape + (3,), np.float32)
    return Case(image, image, mask, ())


def test_the_operating_point_prefers_precision():
    rng = np.random.default_rng(0)
    truth = rng.random((64, 64)) < 0.05
    # damage scores high; a few undamaged pixels score medium (the structures that fool it)
    prob = np.where(truth, rng.uniform(0.5, 1.0, truth.shape), rng.uniform(0.0, 0.3, truth.shape))
    decoys = (~truth) & (rng.random(truth.shape) < 0.06)
    prob[decoys] = rng.uniform(0.3, 0.6, int(decoys.sum()))
    threshold, curve = operating_point([prob], [_case(truth)])
    chosen = next(c for c in curve if c["threshold"] == threshold)
    assert chosen["precision"] >= MIN_PRECISION
    best_f1 = max(curve, key=lambda c: c["f1"])
    assert threshold >= best_f1["threshold"]  # never below the F1-only choice
    assert false_alarms([prob > threshold], [_case(truth)]) < false_alarms(
        [prob > 0.2], [_case(truth)]
    )


def test_the_operating_point_does_not_buy_precision_with_nothing_found():
    """A weak detector reaches high precision only by marking almost nothing: then the
    best F0.5 is used, not a threshold that finds a few pixels."""
    rng = np.random.default_rng(1)
    truth = rng.random((96, 96)) < 0.05
    prob = np.where(truth, rng.uniform(0.3, 0.95, truth.shape), rng.uniform(0.0, 0.3, truth.shape))
    decoys = (~truth) & (rng.random(truth.shape) < 0.08)
    prob[decoys] = rng.uniform(0.3, 0.95, int(decoys.sum()))
    prob[truth & (rng.random(truth.shape) < 0.05)] = 0.999  # the few sure ones
    threshold, curve = operating_point([prob], [_case(truth)])
    chosen = next(c for c in curve if c["threshold"] == threshold)
    assert chosen["f05"] == max(c["f05"] for c in curve)
    assert any(c["precision"] >= MIN_PRECISION for c in curve)  # reachable, but useless
    assert chosen["recall"] > 0.2

"""Photo corpus (split, index, idempotent build) and the random patch sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from training.data import corpus as cp
from training.data.patches import DegradedPatches, PatchSampler

ALL = cp.PYTHON_PHOTOS + cp.DEBIAN_PHOTOS
PY_NAMES = {s.name for s in cp.PYTHON_PHOTOS}


def test_allowlist_names_are_unique_and_heldout_is_a_subset():
    names = [s.name for s in ALL]
    assert len(names) == len(set(names))
    assert cp.HELDOUT.issubset(names)


def test_fixed_split_is_15_to_20_percent_and_spans_sources():
    held = [s for s in ALL if cp.split_of(s.name) == "heldout"]
    assert 0.15 <= len(held) / len(ALL) <= 0.20
    assert len({s.package for s in held}) >= 4
    assert "grace_hopper" in cp.HELDOUT  # a face
    assert {s.name for s in held} == set(cp.HELDOUT)
    rest = {s.name for s in ALL} - cp.HELDOUT - cp.VALIDATION
    assert all(cp.split_of(name) == "train" for name in rest)


def test_validation_split_is_separate_from_both_others_and_holds_a_face():
    assert cp.VALIDATION.issubset({s.name for s in ALL})
    assert not cp.VALIDATION & cp.HELDOUT
    assert all(cp.split_of(name) == "validation" for name in cp.VALIDATION)
    assert 0.08 <= len(cp.VALIDATION) / len(ALL) <= 0.15
    assert "astronaut" in cp.VALIDATION  # a face, for the restore pipeline


def test_patch_positions_counts_crops_per_scale():
    # 256 x 256 at scale 1 -> one crop; 256 + 64 wide -> two; too small at 0.5 -> none.
    assert cp.patch_positions(256, 256, scales=(1.0,)) == 1
    assert cp.patch_positions(320, 256, scales=(1.0,)) == 2
    assert cp.patch_positions(384, 384, scales=(1.0, 0.5)) == 9
    assert cp.patch_positions(512, 512, scales=(0.5,)) == 1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A corpus built from the Python-package photos only (no apt, no network)."""
    root = tmp_path_factory.mktemp("corpus")
    return cp.build_corpus(root, debian=False, log=lambda _: None)


def test_tiny_corpus_split_is_disjoint_and_matches_the_fixed_list(tiny):
    assert {r.name for r in tiny.records} == PY_NAMES
    train, val, held = set(tiny.train), set(tiny.validation), set(tiny.heldout)
    assert train and val and held
    assert not train & held and not train & val and not val & held
    assert len(train) + len(val) + len(held) == len(PY_NAMES)
    assert {p.stem for p in held} == cp.HELDOUT & PY_NAMES
    assert {p.stem for p in val} == cp.VALIDATION & PY_NAMES


def test_tiny_corpus_photos_are_normalised_rgb(tiny):
    for rec in tiny.records:
        with Image.open(tiny.root / rec.file) as im:
            assert im.mode == "RGB"
            assert im.size == (rec.width, rec.height)
            assert max(im.size) <= cp.MAX_SIDE


def test_index_roundtrips_and_rebuild_reuses_the_cache(tiny):
    index = json.loads((tiny.root / cp.INDEX_NAME).read_text())
    assert {p["split"] for p in index["photos"]} == {"train", "validation", "heldout"}
    assert all(p["licence"] and p["package"] for p in index["photos"])
    assert cp.load_corpus(tiny.root) == tiny
    mtimes = {p: p.stat().st_mtime_ns for p in tiny.train + tiny.validation + tiny.heldout}
    again = cp.build_corpus(tiny.root, debian=False, log=lambda _: None)
    assert again == tiny
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_built_cache_is_consistent_with_the_fixed_split():
    root = cp.default_cache()
    if not (root / cp.INDEX_NAME).is_file():
        pytest.skip(f"no corpus at {root}: run `python -m training.data.corpus` to build it")
    corpus = cp.load_corpus(root)
    assert all(r.split == cp.split_of(r.name) for r in corpus.records)
    assert not set(corpus.train) & (set(corpus.heldout) | set(corpus.validation))
    assert len(corpus.validation) == len(cp.VALIDATION)
    assert all(p.is_file() for p in corpus.train + corpus.validation + corpus.heldout)


def test_patch_sampler_shape_range_and_reproducibility(tiny):
    a = PatchSampler(tiny.train, size=128, seed=7)
    b = PatchSampler(tiny.train, size=128, seed=7)
    pa = [a.sample() for _ in range(6)]
    pb = [b.sample() for _ in range(6)]
    for x, y in zip(pa, pb, strict=True):
        assert x.shape == (128, 128, 3) and x.dtype == np.float32
        assert x.min() >= 0.0 and x.max() <= 1.0
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(pa[0], pa[1])


def test_patch_sampler_handles_small_photos(tiny):
    small = [tiny.path("chelsea")]  # 451 x 300: smaller than 512 on its short side
    sampler = PatchSampler(small, size=512, scale=(0.5, 1.0), seed=0)
    assert sampler.sample().shape == (512, 512, 3)


def test_patch_sampler_flip_and_scale_vary_the_view(tiny):
    # Scale fixed at 1.0 on one photo: each patch is an exact crop, flipped or not.
    photo = cp.photo_array(tiny.path("coffee")).astype(np.float32) / 255
    sampler = PatchSampler([tiny.path("coffee")], size=64, scale=(1.0, 1.0), seed=3)
    flipped = 0
    for _ in range(20):
        p = sampler.sample()
        for cand, is_flip in ((p, False), (p[:, ::-1], True)):
            hits = np.argwhere(np.all(np.isclose(photo, cand[0, 0]), axis=2))
            found = any(
                np.array_equal(photo[y : y + 64, x : x + 64], cand)
                for y, x in hits
                if y + 64 <= photo.shape[0] and x + 64 <= photo.shape[1]
            )
            if found:
                flipped += is_flip
                break
        else:
            pytest.fail("patch is not a crop of the photo")
    assert 0 < flipped < 20


def test_degraded_patches_dataset_yields_aligned_tensors(tiny):
    it = iter(DegradedPatches(tiny.train, size=64, seed=0, damage=True))
    item = next(it)
    assert item["degraded"].shape == (3, 64, 64) and item["clean"].shape == (3, 64, 64)
    assert item["mask"].shape == (1, 64, 64) and item["mask"].sum() > 0
    assert float(item["degraded"].min()) >= 0 and float(item["degraded"].max()) <= 1

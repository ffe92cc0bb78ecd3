"""Photo corpus (split, index, idempotent build) and the random patch sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from training.data import corpus as cp
from training.data import photo_rules as rules
from training.data.patches import DegradedPatches, PatchSampler

ALL = cp.PYTHON_PHOTOS + cp.DEBIAN_PHOTOS + cp.ALLOWLISTED
PY_NAMES = {s.name for s in cp.PYTHON_PHOTOS}
GCOMPRIS_UNITS = {f"gcompris:{a}" for a in cp.GCOMPRIS_ACTIVITIES}
UNITS = {s.split_unit for s in ALL} | GCOMPRIS_UNITS
DDPM_PACKAGES = {r.package for r in cp.DDPM_RULES}
# Photos with people (faces) that must stay out of training.
PEOPLE = {
    "grace_hopper",
    "solvay_1927",
    "opencv-messi5",
    "opencv-basketball1",
    "opencv-left01",
    "explore_world_music-music-orchestra",
    "explore_world_music-music-japan",
}


def _unit_of(name: str) -> str:
    if name in {s.name for s in ALL}:
        return next(s.split_unit for s in ALL if s.name == name)
    return f"gcompris:{name.split('-', 1)[0]}"


def test_allowlist_names_are_unique():
    names = [s.name for s in ALL]
    assert len(names) == len(set(names))
    assert all(n.startswith("details-") for n in cp.GCOMPRIS_EXCLUDED)


def test_split_rule_names_known_units_and_never_ddpm_ones():
    assert set(cp.SPLIT_BY_UNIT) <= UNITS
    assert set(cp.SPLIT_BY_UNIT.values()) == {"heldout", "validation"}
    assert not set(cp.SPLIT_BY_UNIT) & DDPM_PACKAGES
    assert cp.split_of("gcompris:erase") == "train"  # units not listed train
    held = {u for u in UNITS if cp.split_of(u) == "heldout"}
    val = {u for u in UNITS if cp.split_of(u) == "validation"}
    assert len(held & GCOMPRIS_UNITS) >= 1 and len(val & GCOMPRIS_UNITS) >= 1
    assert {"palapeli-data", "opencv-doc", "visp-images-data", "matplotlib"} <= held


def test_people_samples_and_tuning_faces_stay_out_of_training():
    from training.data.make_samples import RECIPES

    for name in PEOPLE | {r.name for r in RECIPES}:
        assert cp.split_of(_unit_of(name)) == "heldout", name
    assert cp.split_of(_unit_of("astronaut")) == "validation"  # tune_face_pass's face


def test_wallpaper_units_are_photographers():
    mate = {s.split_unit for s in cp.DEBIAN_PHOTOS if s.package == "mate-backgrounds"}
    assert "mate-backgrounds:Charles Barbin" in mate and len(mate) > 2
    assert all(s.split_unit == s.package for s in cp.ALLOWLISTED)


def _photo(seed: int, size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A smooth random field plus noise: textured like a photo, different per seed."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8))
    base = np.asarray(small.resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    noisy = base + rng.normal(0, 6, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def test_rules_pass_a_photo_and_reject_drawings_cutouts_graphics_and_small_images():
    photo = _photo(0)
    assert rules.rejection(photo) is None
    drawing = Image.new("RGB", (400, 300), (250, 240, 200))  # flat fills, a shaded patch
    drawing.paste((200, 30, 30), (50, 50, 200, 200))
    drawing.paste(photo.crop((0, 0, 150, 100)), (240, 180))
    assert "flat" in rules.rejection(drawing)
    cutout = photo.convert("RGBA")
    cutout.putalpha(Image.new("L", photo.size, 0).point(lambda _: 0))
    assert rules.rejection(cutout) == "cut-out on transparency"
    grey_bars = Image.fromarray(np.tile(np.arange(0, 256, 32, dtype=np.uint8), (300, 50)))
    assert "colours" in rules.rejection(grey_bars)
    assert rules.rejection(photo.resize((300, 150))).startswith("small")
    assert rules.rejection(photo.resize((300, 150)), use="ddpm") is None


def test_perceptual_hash_matches_copies_not_other_photos():
    a, b = _photo(1, (640, 480)), _photo(2, (640, 480))
    copy = a.resize((320, 240), Image.Resampling.LANCZOS)
    assert rules.hash_distance(rules.dhash(a), rules.dhash(copy)) <= rules.HASH_DISTANCE_MAX
    assert rules.hash_distance(rules.dhash(a), rules.dhash(b)) > rules.HASH_DISTANCE_MAX


def test_copyright_file_last_matching_paragraph_wins_across_extensions():
    text = (
        "Format: x\n\nFiles: *\nCopyright: 2014 Some Dev <a@b.c>\n 2015 Other\nLicense: GPL-3+\n\n"
        "Files: src/act/resource/a.jpg\n src/act/resource/b.png\nCopyright: 2010, Ann Photo\n"
        "License: CC-BY-SA-3.0\nComment: from Wikimedia\n"
    )
    stanzas = rules.parse_copyright(text)
    assert rules.copyright_of(stanzas, "src/act/resource/a.webp") == ("Ann Photo", "CC-BY-SA-3.0")
    assert rules.copyright_of(stanzas, "src/act/resource/b.webp")[0] == "Ann Photo"
    author, licence = rules.copyright_of(stanzas, "src/act/resource/c.webp")
    assert (author, licence) == ("Some Dev and others (package-wide Files: *)", "GPL-3+")


def test_gcompris_names_keep_the_activity_and_the_path():
    name = cp.gcompris_name(
        "explore_monuments", ":/gcompris/src/activities/x/resource/usa/navajo.webp"
    )
    assert name == "explore_monuments-usa-navajo"


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
    assert {p.stem for p in held} == {"grace_hopper"}
    assert {r.split for r in tiny.records if r.package == "scikit-image"} == {"validation"}
    assert all(r.split == cp.split_of(r.unit) and r.use == "all" for r in tiny.records)


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


@pytest.fixture(scope="module")
def built():
    """The corpus built in the default cache, when there is one (never in CI)."""
    root = cp.default_cache()
    if not (root / cp.INDEX_NAME).is_file():
        pytest.skip(f"no corpus at {root}: run `python -m training.data.corpus` to build it")
    return cp.load_corpus(root)


def test_built_corpus_splits_whole_units_by_the_rule(built):
    by_unit: dict[str, set[str]] = {}
    for r in built.records:
        by_unit.setdefault(r.unit, set()).add(r.split)
        assert r.split == cp.split_of(r.unit) and r.unit in UNITS | DDPM_PACKAGES, r.name
        assert r.licence and "unknown" not in (r.author, r.licence), r.name
    assert all(len(splits) == 1 for splits in by_unit.values())
    assert all(p.is_file() for p in built.ddpm_train + built.validation + built.heldout)
    assert len(built.records) >= 200


def test_built_corpus_holds_people_out_and_ddpm_photos_in_ddpm_training_only(built):
    held = {p.stem for p in built.heldout}
    assert held >= PEOPLE
    ddpm = {built.root / r.file for r in built.records if r.use == "ddpm"}
    assert ddpm and {r.package for r in built.records if r.use == "ddpm"} == DDPM_PACKAGES
    assert not ddpm & set(built.train + built.validation + built.heldout)
    assert ddpm <= set(built.ddpm_train) and set(built.train) < set(built.ddpm_train)


def test_built_corpus_has_no_near_duplicate_across_splits(built):
    hashes = []
    for r in built.records:
        with Image.open(built.root / r.file) as im:
            hashes.append((r.split, rules.dhash(im), r.name))
    for i, (split, h, name) in enumerate(hashes):
        for other_split, other, other_name in hashes[i + 1 :]:
            if split != other_split:
                assert rules.hash_distance(h, other) > rules.HASH_DISTANCE_MAX, (name, other_name)


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

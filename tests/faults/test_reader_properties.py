"""Property-based: whatever bytes a manifest or an image file holds, reading it ends in a
valid object or one clean :class:`HeirloomError`, never another exception, and never
writes a file anywhere (bounded examples, so the suite stays fast)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.errors import HeirloomError
from engine.images import load_image, save_image
from engine.models import Manifest, parse_manifest, read_pack
from fault_tools import PHOTO, tree

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

VALID = {
    "schema": 1,
    "name": "tiny",
    "task": "test",
    "version": "1.0",
    "title": "Tiny",
    "inputs": [{"name": "image", "layout": "NCHW", "channels": 3, "dtype": "float32"}],
    "outputs": [{"name": "output", "layout": "NCHW", "channels": 3, "dtype": "float32"}],
    "sha256": "0" * 64,
    "licence": "MIT",
    "size_rule": {"multiple_of": 1, "min": 1, "fixed": None},
    "tiling": {"allowed": True, "overlap": 32, "bytes_per_pixel": 64},
}
KEYS = sorted(VALID) + ["files", "options", "provenance", "architecture"]


def _read(data: object) -> Manifest | None:
    try:
        return parse_manifest(data, "fuzz")
    except HeirloomError as exc:
        assert "\n" not in str(exc)
        return None


@SETTINGS
@given(json_values)
def test_any_json_value_is_a_manifest_or_a_clean_error(data):
    _read(data)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(KEYS), json_values), min_size=1, max_size=4))
def test_a_valid_manifest_with_fields_replaced_stays_clean(changes):
    data = json.loads(json.dumps(VALID))
    for key, value in changes:
        data[key] = value
    manifest = _read(data)
    if manifest is not None:
        assert manifest.name == data["name"] and "/" not in manifest.name


@SETTINGS
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_manifest_file_bytes_are_read_cleanly(tmp_path_factory, raw):
    root = tmp_path_factory.mktemp("pack")
    folder = root / "pack"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(raw)
    before = tree(root)
    try:
        read_pack(folder)
    except HeirloomError as exc:
        assert "\n" not in str(exc)
    assert tree(root) == before


def _encoded(fmt: str) -> bytes:
    with Image.open(PHOTO) as image:
        small = image.convert("RGB").resize((48, 32))
    buffer = io.BytesIO()
    small.save(buffer, format=fmt)
    return buffer.getvalue()


def _encoded16(suffix: str) -> bytes:
    """16-bit RGB, which takes the pypng / tifffile path instead of Pillow's."""
    with tempfile.TemporaryDirectory() as tmp:
        pixels = np.random.default_rng(2).random((32, 48, 3), dtype=np.float32)
        return save_image(Path(tmp) / f"x{suffix}", pixels, bit_depth=16).read_bytes()


ENCODED = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "TIFF", "WEBP", "BMP")}
ENCODED |= {"PNG16": _encoded16(".png"), "TIFF16": _encoded16(".tif")}
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
SUFFIX |= {"PNG16": ".png", "TIFF16": ".tif"}


@st.composite
def damaged_images(draw) -> tuple[str, bytes]:
    """A real encoded photo, cut short and/or with bytes overwritten."""
    fmt = draw(st.sampled_from(sorted(ENCODED)))
    data = bytearray(ENCODED[fmt])
    cut = draw(st.integers(0, len(data)))
    data = data[: max(cut, 1)] if draw(st.booleans()) else data
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return fmt, bytes(data)


@SETTINGS
@given(damaged_images())
def test_a_damaged_image_loads_or_is_one_clean_error(tmp_path_factory, sample):
    fmt, raw = sample
    root = tmp_path_factory.mktemp("img")
    path = root / f"scan{SUFFIX[fmt]}"
    path.write_bytes(raw)
    before = tree(root)
    try:
        loaded = load_image(path)
    except HeirloomError as exc:
        assert "\n" not in str(exc)
    else:
        assert loaded.pixels.dtype == np.float32 and loaded.pixels.ndim == 3
        assert np.isfinite(loaded.pixels).all()
        assert loaded.pixels.min() >= 0.0 and loaded.pixels.max() <= 1.0
    assert tree(root) == before  # reading never writes, not even beside the file


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(sorted(SUFFIX.values())))
def test_random_bytes_under_an_image_name_are_a_clean_error(tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("raw") / f"scan{suffix}"
    path.write_bytes(raw)
    try:
        load_image(path)
    except HeirloomError as exc:
        assert "\n" not in str(exc)


def test_the_generators_reach_the_valid_case(tmp_path):
    """The fuzzers above start from inputs that do load, so they test more than refusals."""
    assert _read(json.loads(json.dumps(VALID))) is not None
    for fmt, raw in ENCODED.items():
        path = tmp_path / f"ok{SUFFIX[fmt]}"
        path.write_bytes(raw)
        assert load_image(path).width == 48

"""Sketch pipeline: edge tracing on real photos, drawing normalisation, padding to a
pack's size rule and back, through real (tiny) ONNX graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image, ImageDraw
from scipy import ndimage

from engine import arrays
from engine.cancel import CancelToken
from engine.errors import Cancelled
from engine.images import load_image
from engine.models import Registry, SizeRule, TensorSpec, Tiling, write_pack
from engine.ops.edges import label_pieces, min_piece_length, thin_lines
from engine.pipelines.sketch import (
    SketchError,
    SketchOptions,
    normalise_sketch,
    sketch_to_photo,
    trace_edges,
)
from graphs import build_conv_model, tiny_manifest

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
EIGHT = np.ones((3, 3), bool)


def photo(name: str, width: int | None = None) -> np.ndarray:
    pixels = load_image(SAMPLES / f"{name}.jpg").pixels
    if width:
        pixels = arrays.resize(pixels, width, round(pixels.shape[0] * width / pixels.shape[1]))
    return pixels


def blocks(lines: np.ndarray) -> int:
    return int((lines[:-1, :-1] & lines[1:, :-1] & lines[:-1, 1:] & lines[1:, 1:]).sum())


# --- tracing edges --------------------------------------------------------------


def test_edges_of_a_real_photo_are_black_one_pixel_lines_on_white():
    edges = trace_edges(photo("clean_grace_hopper"), detail=0.5)
    assert edges.shape == (600, 512) and edges.dtype == np.float32
    assert set(np.unique(edges)) == {0.0, 1.0}
    lines = edges == 0.0
    assert 0.005 < lines.mean() < 0.1
    assert blocks(lines) == 0
    # thin: a line pixel has few line neighbours (no smeared areas)
    neighbours = ndimage.convolve(lines.astype(int), np.ones((3, 3), int), mode="constant") - 1
    assert np.percentile(neighbours[lines], 99) <= 3


def test_a_step_and_a_disk_are_traced_where_their_boundaries_are():
    step = np.full((96, 128), 0.2, np.float32)
    step[:, 64:] = 0.8
    lines = trace_edges(step) == 0.0
    cols = np.nonzero(lines)[1]
    assert set(cols) <= {63, 64}
    assert lines[:, 63:65].any(axis=1).mean() > 0.95  # the whole height

    yy, xx = np.mgrid[:128, :128]
    radius = np.hypot(yy - 63.5, xx - 63.5)
    disk = np.where(radius < 40, 0.9, 0.1).astype(np.float32)
    ys, xs = np.nonzero(trace_edges(np.dstack([disk] * 3)) == 0.0)
    distance = np.abs(np.hypot(ys - 63.5, xs - 63.5) - 40)
    assert distance.max() <= 1.5
    assert len(ys) > 0.8 * 2 * np.pi * 40  # closed all round


def test_more_detail_gives_more_lines():
    image = photo("clean_LadyBird", width=512)
    counts = [int((trace_edges(image, d) == 0).sum()) for d in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), counts
    assert counts[-1] > 3 * counts[0]


def test_no_piece_is_shorter_than_the_limit_and_labels_match_scipy():
    image = photo("clean_EveningGlow", width=512)
    for detail in (0.2, 0.9):
        lines = trace_edges(image, detail) == 0.0
        labels, count = ndimage.label(lines, structure=EIGHT)
        sizes = np.bincount(labels.ravel())[1:]
        assert count > 10 and sizes.min() >= min_piece_length(lines.shape, detail)
    rng = np.random.default_rng(3)
    mask = rng.random((120, 90)) < 0.35
    roots, flat = label_pieces(mask)
    theirs = ndimage.label(mask, structure=EIGHT)[0].ravel()[flat]
    # same partition: one of our roots per scipy label and vice versa
    pairs = set(zip(roots.tolist(), theirs.tolist(), strict=True))
    assert len(pairs) == len(set(roots.tolist())) == len(set(theirs.tolist()))


def test_edge_tracing_rejects_a_detail_outside_0_to_1():
    with pytest.raises(ValueError, match="detail"):
        trace_edges(np.zeros((8, 8), np.float32), 1.5)


# --- thinning and normalisation -------------------------------------------------


def strokes(width: int = 9, size: tuple[int, int] = (200, 160)) -> np.ndarray:
    """Thick, soft pen strokes (a rectangle outline, a diagonal and a curve) on white."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle([20, 20, 120, 100], outline=30, width=width)
    draw.line([(140, 10), (190, 150)], fill=10, width=width)
    draw.arc([30, 110, 130, 190], 180, 360, fill=40, width=width)
    soft = np.asarray(image, np.float32) / 255
    return ndimage.gaussian_filter(soft, 1.0)


def test_thick_soft_strokes_become_connected_one_pixel_lines_inside_them():
    drawing = strokes()
    ink = drawing < 0.5
    thin = normalise_sketch(drawing).edges == 0.0
    assert blocks(thin) == 0
    assert thin.sum() < ink.sum() / 4
    assert not (thin & ~ink).any()
    assert ndimage.label(thin, structure=EIGHT)[1] == ndimage.label(ink, structure=EIGHT)[1]
    # the top of the rectangle (rows 20-28) is thinned to its centre line
    top = np.nonzero(thin[:, 40:100])[0]
    assert set(top[top < 60]) <= {23, 24, 25}
    kept = normalise_sketch(drawing, thin=False).edges  # strokes as drawn, contrast stretched
    np.testing.assert_allclose(kept, (drawing - drawing.min()) / (1 - drawing.min()), atol=1e-6)


def test_white_lines_on_black_are_inverted_and_edge_maps_pass_unchanged():
    edges = trace_edges(photo("clean_ColdRipple", width=400))
    same = normalise_sketch(edges)
    assert not same.inverted and np.array_equal(same.edges, edges)
    flipped = normalise_sketch(np.dstack([1.0 - edges] * 3))
    assert flipped.inverted and np.array_equal(flipped.edges, edges)


@pytest.mark.parametrize(
    "name", ["clean_LadyBird", "clean_grace_hopper", "clean_EveningGlow", "clean_ColdRipple"]
)
def test_photos_colour_or_grey_are_refused_with_the_next_step(name):
    image = photo(name, width=320)
    for candidate in (image, arrays.luma(image)):
        with pytest.raises(SketchError, match="looks like a photo.*heirloom edges"):
            normalise_sketch(candidate)


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_an_empty_or_all_black_canvas_is_an_error(value):
    canvas = np.full((64, 48, 3), value, np.float32)
    canvas[5, 5] = value + 0.1 if value < 1 else 0.9  # a faint speck is no drawing
    with pytest.raises(SketchError, match="empty"):
        normalise_sketch(canvas)


# --- the pipeline through real graphs -------------------------------------------


def identity_graph(path: Path, block: int) -> Path:
    """photo = edges, but only for H and W that are multiples of ``block`` (the graph
    folds pixels into channels and back, which fails on other sizes)."""
    nodes = [
        helper.make_node("SpaceToDepth", ["edges"], ["folded"], blocksize=block),
        helper.make_node("DepthToSpace", ["folded"], ["photo"], blocksize=block, mode="DCR"),
    ]
    graph = helper.make_graph(
        nodes,
        "fold",
        [helper.make_tensor_value_info("edges", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("photo", TensorProto.FLOAT, ["N", 3, "H", "W"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def sketch_manifest(name: str, block: int):
    return tiny_manifest(
        name,
        task="sketch2photo",
        inputs=(TensorSpec("edges", "NCHW", 3, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("photo", "NCHW", 3, "float32", (-1.0, 1.0)),),
        size_rule=SizeRule(multiple_of=block, min=block),
        tiling=Tiling(allowed=False, overlap=0),
    )


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    user = tmp_path / "user"
    write_pack(
        user / "fold",
        identity_graph(tmp_path / "fold.onnx", 32),
        sketch_manifest("fold", 32),
        "# fold\n",
    )
    conv = build_conv_model(
        tmp_path / "conv.onnx", down=True, input_name="edges", output_name="photo"
    )
    write_pack(user / "conv", conv, sketch_manifest("conv", 2), "# conv\n")
    return Registry(bundled=tmp_path / "none", user=user)


@pytest.mark.parametrize("shape", [(50, 130), (130, 50), (3, 5), (32, 64)])
def test_any_canvas_is_padded_to_the_rule_and_cropped_back_exactly(registry, shape):
    drawing = np.ones(shape, np.float32)
    drawing[shape[0] // 2, 1:-1] = 0.0
    drawing[:, shape[1] // 3] = 0.0
    options = SketchOptions(model="fold", device="cpu", thin=False)
    result = sketch_to_photo(drawing, options, registry=registry)
    photo = result.images["photo"]
    assert photo.shape == (*shape, 3)
    # identity graph: the photo is the drawing, so the crop is exactly where it was put
    np.testing.assert_allclose(photo, np.dstack([result.images["edges"]] * 3), atol=1e-6)
    np.testing.assert_array_equal(result.images["edges"], drawing)
    assert result.info["model"] == "fold" and result.info["device"] == "CPU"


def test_large_canvases_are_generated_at_max_side_and_enlarged(registry):
    drawing = strokes(width=3, size=(300, 200))
    result = sketch_to_photo(
        drawing, SketchOptions(model="fold", device="cpu", max_side=100), registry=registry
    )
    assert result.images["photo"].shape == (200, 300, 3)
    dark = result.images["photo"].mean(axis=2) < 0.9
    near_ink = ndimage.binary_dilation(drawing < 0.5, iterations=3)
    assert dark.any() and dark[near_ink].mean() > dark[~near_ink].mean() + 0.05


def test_generation_is_deterministic_and_cancellable(registry):
    drawing = trace_edges(photo("clean_grace_hopper", width=96))
    options = SketchOptions(model="conv", device="cpu")
    first = sketch_to_photo(drawing, options, registry=registry).images["photo"]
    second = sketch_to_photo(drawing, options, registry=registry).images["photo"]
    assert first.shape == (*drawing.shape, 3) and first.std() > 0.01
    np.testing.assert_array_equal(first, second)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        sketch_to_photo(drawing, options, cancel=token, registry=registry)


def test_thinning_alone_keeps_line_ends_and_pieces():
    mask = np.zeros((40, 40), bool)
    mask[10:14, 5:35] = True  # a 4 px thick bar
    mask[30, 30] = True  # a dot
    thin = thin_lines(mask)
    assert thin[10:14, 5:35].sum(axis=0).max() == 1
    assert thin[10:14, 7:33].any(axis=0).all()
    assert thin[30, 30]

"""Drawing into a photo: a region of a real photo redrawn through a real (tiny) ONNX
``sketch-into`` graph, the rest of the photo kept bit for bit, and the CLI around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.errors import PackError
from engine.images import load_image
from engine.models import Registry, TensorSpec, check_task_io
from engine.pipelines.sketch import (
    IntoOptions,
    SketchError,
    sketch_into_photo,
    trace_edges,
)
from graphs import sketch_into_pack, tiny_manifest

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
OPTIONS = IntoOptions(device="cpu")


@pytest.fixture
def registry(home: Path) -> Registry:
    sketch_into_pack(home)
    return Registry()


@pytest.fixture(scope="module")
def ladybird() -> np.ndarray:
    return load_image(SAMPLES / "clean_LadyBird.jpg").pixels  # 1024x640, real photo


def box_region(shape: tuple[int, ...], top: int, left: int, size: int) -> np.ndarray:
    region = np.zeros(shape[:2], np.float32)
    region[top : top + size, left : left + size] = 1.0
    return region


def test_only_the_region_changes_and_the_rest_is_the_photo_bit_for_bit(
    registry: Registry, ladybird: np.ndarray
) -> None:
    region = box_region(ladybird.shape, 100, 300, 120)
    edges = trace_edges(ladybird, 0.5)
    result = sketch_into_photo(ladybird, region, edges, options=OPTIONS, registry=registry)
    out = result.images["photo"]
    inside = region > 0.5
    assert out.shape == ladybird.shape and out.dtype == np.float32
    assert np.array_equal(out[~inside], ladybird[~inside])
    assert np.abs(out[inside] - ladybird[inside]).mean() > 0.02
    # only a crop around the region ran: its box is the region plus context, not the photo
    top, left, height, width = result.info["box"]
    assert top < 100 and left < 300 and height < ladybird.shape[0] and width < 1024
    assert result.info["region_share"] == pytest.approx(inside.mean(), abs=1e-4)


def test_lines_outside_the_region_are_ignored_and_lines_inside_are_followed(
    registry: Registry, ladybird: np.ndarray
) -> None:
    region = box_region(ladybird.shape, 200, 200, 96)
    edges = trace_edges(ladybird, 0.5)
    scribbled = edges.copy()
    scribbled[20:40, 20:600] = 0.0  # far outside the region's crop
    scribbled[400:420, 100:900] = 0.0
    plain = sketch_into_photo(ladybird, region, edges, options=OPTIONS, registry=registry)
    other = sketch_into_photo(ladybird, region, scribbled, options=OPTIONS, registry=registry)
    assert np.array_equal(plain.images["photo"], other.images["photo"])
    moved = edges.copy()
    moved[240:244, 200:296] = 0.0  # a new line across the region
    drawn = sketch_into_photo(ladybird, region, moved, options=OPTIONS, registry=registry)
    assert not np.array_equal(plain.images["photo"], drawn.images["photo"])


def test_colour_hints_change_the_region(registry: Registry, ladybird: np.ndarray) -> None:
    region = box_region(ladybird.shape, 64, 64, 128)
    edges = np.ones(ladybird.shape[:2], np.float32)  # no lines at all is allowed
    hints = np.zeros((*ladybird.shape[:2], 3), np.float32)
    hints[..., 0] = 1.0
    where = np.zeros(ladybird.shape[:2], bool)
    where[100:110, 80:180] = True
    plain = sketch_into_photo(ladybird, region, edges, options=OPTIONS, registry=registry)
    hinted = sketch_into_photo(
        ladybird, region, edges, hints, where, options=OPTIONS, registry=registry
    )
    changed = np.abs(hinted.images["photo"] - plain.images["photo"]).max(axis=2) > 0
    assert changed[region > 0.5].any() and not changed[region < 0.5].any()


def test_a_big_region_runs_shrunk_and_still_keeps_the_rest(
    registry: Registry, ladybird: np.ndarray
) -> None:
    region = np.zeros(ladybird.shape[:2], np.float32)
    region[:, :700] = 1.0
    options = IntoOptions(device="cpu", max_side=256)
    out = sketch_into_photo(
        ladybird, region, trace_edges(ladybird, 0.5), options=options, registry=registry
    ).images["photo"]
    assert out.shape == ladybird.shape
    assert np.array_equal(out[:, 700:], ladybird[:, 700:])


def test_bad_regions_are_one_clear_error(registry: Registry, ladybird: np.ndarray) -> None:
    edges = np.ones(ladybird.shape[:2], np.float32)
    with pytest.raises(SketchError, match="region to redraw is empty"):
        sketch_into_photo(ladybird, np.zeros(ladybird.shape[:2]), edges, registry=registry)
    with pytest.raises(SketchError, match="same size"):
        sketch_into_photo(ladybird, np.ones((10, 10)), edges, registry=registry)


def test_a_sketch_into_pack_must_declare_all_five_inputs() -> None:
    manifest = tiny_manifest(
        "broken",
        task="sketch-into",
        inputs=(TensorSpec("known", "NCHW", 3, "float32", (-1.0, 1.0)),),
    )
    with pytest.raises(PackError, match="needs five NCHW inputs"):
        check_task_io(manifest)


# --- the command line ---------------------------------------------------------------


@pytest.fixture
def drawing(tmp_path: Path, ladybird: np.ndarray) -> dict[str, Path]:
    """The photo as an 8-bit PNG, its traced edges, a mask and RGBA colour hints."""
    paths = {k: tmp_path / f"{k}.png" for k in ("photo", "edges", "mask", "hints")}
    Image.fromarray((ladybird * 255 + 0.5).astype(np.uint8)).save(paths["photo"])
    lines = trace_edges(ladybird, 0.5)
    Image.fromarray((lines * 255).astype(np.uint8)).save(paths["edges"])
    mask = (box_region(ladybird.shape, 150, 400, 160) * 255).astype(np.uint8)
    Image.fromarray(mask).save(paths["mask"])
    hints = np.zeros((*ladybird.shape[:2], 4), np.uint8)
    hints[200:210, 420:520] = (30, 200, 40, 255)
    Image.fromarray(hints).save(paths["hints"])
    return paths


def test_cli_redraws_the_masked_region_of_the_photo_and_nothing_else(
    registry: Registry, drawing: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.png"
    code = main(
        ["sketch", str(drawing["edges"]), "-o", str(out), "--into", str(drawing["photo"]),
         "--mask", str(drawing["mask"]), "--colors", str(drawing["hints"]), "-q"]
    )  # fmt: skip
    assert code == 0
    written = np.asarray(Image.open(out))
    source = np.asarray(Image.open(drawing["photo"]))
    inside = np.asarray(Image.open(drawing["mask"])) > 127
    assert np.array_equal(written[~inside], source[~inside])
    assert np.abs(written[inside].astype(int) - source[inside]).mean() > 5


def test_cli_colours_without_a_photo_draw_the_whole_frame(
    registry: Registry, drawing: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "scratch.png"
    code = main(
        ["sketch", str(drawing["edges"]), "-o", str(out), "--colors", str(drawing["hints"]), "-q"]
    )
    assert code == 0
    assert Image.open(out).size == Image.open(drawing["edges"]).size


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--into", "photo"], "--into needs --mask"),
        (["--mask", "mask"], "give the photo with --into"),
        (["--into", "photo", "--mask", "small"], "must be the same size"),
    ],
)
def test_cli_refuses_incomplete_or_mismatched_inputs_in_one_line(
    registry: Registry,
    drawing: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    Image.new("L", (32, 32), 255).save(tmp_path / "small.png")
    paths = {**{k: str(v) for k, v in drawing.items()}, "small": str(tmp_path / "small.png")}
    args = [paths.get(a, a) for a in extra]
    out = tmp_path / "never.png"
    assert main(["sketch", str(drawing["edges"]), "-o", str(out), *args, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()

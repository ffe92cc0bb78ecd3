"""`heirloom edges` and `heirloom sketch` as a user runs them: subprocess, exit codes,
one-line errors, no partial files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from commands import heirloom
from engine.models import SizeRule, TensorSpec, Tiling, write_pack
from graphs import build_conv_model, tiny_manifest

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "clean_grace_hopper.jpg"


def one_line_error(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("heirloom:")]
    assert len(errors) == 1 and text in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_edges_then_sketch_end_to_end(tmp_path):
    home = tmp_path / "home"
    edges = tmp_path / "edges.png"
    result = heirloom("edges", SAMPLE, "-o", edges, "--detail", "0.4", home=home)
    assert result.returncode == 0, result.stderr
    assert "100% done" in result.stderr and f"wrote {edges}" in result.stdout
    drawing = np.asarray(Image.open(edges))
    assert drawing.shape == (600, 512) and set(np.unique(drawing)) == {0, 255}

    out = tmp_path / "photo.png"
    one_line_error(
        heirloom("sketch", edges, "-o", out, "--model", "nope", home=home),
        "no model pack named 'nope'",
    )
    graph = build_conv_model(
        tmp_path / "g.onnx", down=True, input_name="edges", output_name="photo"
    )
    manifest = tiny_manifest(
        "tiny-sketch",
        task="sketch2photo",
        inputs=(TensorSpec("edges", "NCHW", 3, "float32", (-1.0, 1.0)),),
        outputs=(TensorSpec("photo", "NCHW", 3, "float32", (0.0, 1.0)),),
        size_rule=SizeRule(multiple_of=2, min=2),
        tiling=Tiling(allowed=False, overlap=0),
    )
    pack = write_pack(tmp_path / "src" / "tiny-sketch", graph, manifest, "# tiny\n")
    assert heirloom("models", "import", pack.path, home=home).returncode == 0

    result = heirloom("sketch", edges, "-o", out, "--device", "cpu", home=home)
    assert result.returncode == 0, result.stderr
    assert "with tiny-sketch on CPU" in result.stdout and "generating" in result.stderr
    photo = np.asarray(Image.open(out))
    assert photo.shape == (600, 512, 3) and photo.std() > 1

    inverted = tmp_path / "inverted.png"
    Image.fromarray(255 - drawing).save(inverted)
    result = heirloom("sketch", inverted, "-o", tmp_path / "again.png", home=home)
    assert result.returncode == 0 and "it was inverted first" in result.stdout
    one_line_error(heirloom("sketch", edges, "-o", out, home=home), "already exists")


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    out = tmp_path / "out.png"
    one_line_error(
        heirloom("sketch", SAMPLE, "-o", out, home=home), "looks like a photo, not a line drawing"
    )
    black = tmp_path / "black.png"
    Image.new("L", (300, 200), 0).save(black)
    one_line_error(heirloom("sketch", black, "-o", out, home=home), "the sketch is empty")
    one_line_error(heirloom("sketch", tmp_path / "missing.png", "-o", out, home=home), "missing")
    one_line_error(
        heirloom("edges", SAMPLE, "-o", out, "--detail", "2", home=home),
        "must be between 0 and 1, not 2",
    )
    one_line_error(heirloom("edges", SAMPLE, "-o", SAMPLE, "--overwrite", home=home), "original")
    assert not out.exists() and list(tmp_path.iterdir()) == [black]

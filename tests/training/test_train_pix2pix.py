"""pix2pix trainer smoke test: a tiny generator, a few steps, tmp folders, a pack that
verifies and runs through the engine. Kept under a minute (2 CPU cores)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.models import Registry, read_pack, verify_pack
from engine.pipelines.sketch import SketchOptions, sketch_to_photo, trace_edges
from training.data.corpus import default_cache
from training.train_pix2pix import main

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "clean_LadyBird.jpg"
TINY = ["--ngf", "4", "--ndf", "4", "--num-downs", "5", "--size", "64", "--batch", "2"]


@pytest.mark.slow
def test_tiny_twin_and_gan_runs_resume_and_export_a_working_pack(tmp_path: Path) -> None:
    if not (default_cache() / "index.json").exists():
        pytest.skip(f"no corpus at {default_cache()}: run `python -m training.data.corpus`")
    runs, out = tmp_path / "runs", tmp_path / "packs" / "heirloom-sketch"
    common = [*TINY, "--runs-dir", str(runs), "--eval-cases", "2", "--threads", "1"]

    main(["--l1-only", "--run", "twin", "--steps", "2", *common, "--out", str(out)])
    assert torch.load(runs / "twin" / "checkpoint.pt", weights_only=False)["step"] == 2
    assert "ours" in json.loads((runs / "twin" / "metrics.json").read_text())
    assert not out.exists()  # the twin is measured, never exported

    main(["--run", "gan", "--l1-run", "twin", "--steps", "2", *common, "--out", str(out)])
    main(["--run", "gan", "--l1-run", "twin", "--steps", "3", *common, "--out", str(out)])
    assert torch.load(runs / "gan" / "checkpoint.pt", weights_only=False)["step"] == 3
    pack = read_pack(out)
    verify_pack(pack)
    m = pack.manifest
    assert (m.task, m.inputs[0].name, m.outputs[0].name) == ("sketch2photo", "edges", "photo")
    assert m.inputs[0].value_range == (-1.0, 1.0) and m.size_rule.multiple_of == 32
    assert not m.tiling.allowed and m.provenance["steps"] == 3
    card = pack.card_path.read_text()
    assert "| same generator, L1 only | 0." in card and "sha256" in card
    assert Image.open(out / "examples.jpg").size[0] > 4 * 192  # input | ours | twin | real

    drawing = trace_edges(np.asarray(Image.open(SAMPLE).resize((100, 60)), np.float32) / 255)
    registry = Registry(bundled=tmp_path / "none", user=out.parent)
    result = sketch_to_photo(drawing, SketchOptions(device="cpu"), registry=registry)
    assert result.images["photo"].shape == (60, 100, 3)
    assert result.info["model"] == "heirloom-sketch"

    with pytest.raises(SystemExit):
        main(["--run", "never", "--export-only", *common, "--out", str(tmp_path / "x")])


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
def test_resize_upsampling_leaves_no_checkerboard(upsample: str) -> None:
    """A flat feature map through a random up-layer: a transposed 4x4 stride-2 conv
    paints a period-2 pattern (uneven kernel overlap); resize + conv stays flat away
    from the border. This is why our own generator uses resize."""
    from training.nets.pix2pix import make_up

    torch.manual_seed(0)
    layer = make_up(upsample, 8, 4, bias=False)
    with torch.no_grad():
        out = layer(torch.ones(1, 8, 16, 16))[0, :, 4:-4, 4:-4]
    spread = float((out - out.mean(dim=(1, 2), keepdim=True)).abs().max())
    if upsample == "resize":
        assert out.shape[-1] == 24 and spread < 1e-5
    else:
        assert spread > 1e-2


def test_a_resize_generator_has_no_transposed_convs_and_keeps_its_size() -> None:
    from training.nets.pix2pix import UnetGenerator

    net = UnetGenerator(3, 3, 6, 8, "instance", upsample="resize")
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    with torch.no_grad():
        out = net(torch.zeros(1, 3, 64, 128))
    assert out.shape == (1, 3, 64, 128) and float(out.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="upsample must be"):
        UnetGenerator(3, 3, 6, 8, "instance", upsample="bilinear")  # type: ignore[arg-type]

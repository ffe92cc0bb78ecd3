"""The architectures that need more than a plain export: face restorers (GFPGAN,
RestoreFormer, CodeFormer), LaMa and DDColor.

Each is built at random with spandrel's own class (the smallest configuration its
constructor, and where the case goes through a checkpoint, spandrel's detection,
allows), exported with the table's hooks, and run by ONNX Runtime against the torch
network: ``training.export.check_parity`` inside the importer, and again here against
the network called the way its authors' inference calls it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("spandrel") is None:
    pytest.skip("spandrel is not installed (see the train extra)", allow_module_level=True)

import torch
from torch import nn

from engine import arrays
from engine.images import load_image
from engine.models import ModelPack, Registry
from engine.pipelines.colorize import ColorizeOptions, colorize_photo
from engine.pipelines.fill import FillOptions, fill_photo
from engine.runtime import open_session
from training.compat import import_spandrel
from training.convert.__main__ import main as convert_cli
from training.convert.spandrel_archs import ARCHS
from training.convert.spandrel_faces import FaceGraph, export_face
from training.convert.spandrel_fill import irfft2, rfft2
from training.export import check_parity

import_spandrel()
from spandrel.architectures.GFPGAN import GFPGAN  # noqa: E402 - after the torchvision shim
from spandrel.architectures.LaMa import LaMa  # noqa: E402
from spandrel.architectures.RestoreFormer import RestoreFormer  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
TASKS = ("face-restore", "fill", "colorize")
COVERED = {"GFPGAN", "RestoreFormer", "CodeFormer", "LaMa", "DDColor"}
HEAVY = "HEIRLOOM_HEAVY_TESTS"


def test_every_claimed_architecture_of_these_tasks_has_a_case() -> None:
    claimed = {a for a, s in ARCHS.items() if s.status == "supported" and s.task in TASKS}
    assert claimed == COVERED


def _import(net: nn.Module, tmp_path: Path) -> ModelPack:
    """Save ``net``'s weights as a checkpoint and import it as ``heirloom models import``
    does (in this process: each new one pays seconds of torch import)."""
    checkpoint = tmp_path / "net.pth"
    torch.save(net.state_dict(), checkpoint)
    home = tmp_path / "home"
    code = convert_cli(["spandrel", str(checkpoint), "-o", str(home / "models" / "it")])
    assert code == 0
    return Registry(bundled=tmp_path / "none", user=home / "models").get("it")


def _faces(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (1, 3, 512, 512)).astype(np.float32) for _ in range(2)]


def _worst(pack: ModelPack, call, feeds: list[dict[str, np.ndarray]]) -> float:
    session = open_session(pack.model_path, device="cpu")
    worst = 0.0
    for feed in feeds:
        with torch.no_grad():
            expected = call(*(torch.from_numpy(v) for v in feed.values())).numpy()
        (got,) = session.run(feed)
        assert got.shape == expected.shape
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


# --- faces ------------------------------------------------------------------------


@pytest.mark.slow
def test_gfpgan_exports_with_its_stored_noise_and_matches_torch(tmp_path: Path) -> None:
    """spandrel builds GFPGAN only at full size from a checkpoint; the export path
    (the table's wrap and export) is the same for a narrow one built directly."""
    torch.manual_seed(0)
    net = GFPGAN(out_size=512, num_style_feat=32, channel_multiplier=1, narrow=0.0625, num_mlp=1)
    graph = FaceGraph(net.eval(), "GFPGAN")
    example = {"image": torch.from_numpy(_faces(0)[0])}
    path = export_face(graph, example, tmp_path / "gfpgan.onnx")
    for face in _faces(1):
        assert check_parity(graph, path, {"image": face}, atol=1e-4) <= 1e-4
    # the graph is deterministic: the decoder's noise comes from the checkpoint's buffers
    first, second = (graph(example["image"]) for _ in range(2))
    assert torch.equal(first, second)


@pytest.mark.slow
def test_restoreformer_imports_from_a_checkpoint_and_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = RestoreFormer(
        n_embed=32,
        embed_dim=32,
        ch=32,
        ch_mult=(1, 1, 1, 1, 1, 1),
        num_res_blocks=1,
        z_channels=32,
    ).eval()
    pack = _import(net, tmp_path)
    manifest = pack.manifest
    assert manifest.task == "face-restore" and manifest.size_rule.fixed == (512, 512)
    assert manifest.inputs[0].value_range == (-1.0, 1.0)
    assert _worst(pack, lambda x: net(x)[0], [{"image": f} for f in _faces(2)]) <= 1e-3


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get(HEAVY),
    reason=f"CodeFormer's fixed VQ autoencoder (74M parameters) takes about 8 minutes to "
    f"export with dynamo and compare on 2 busy CPU cores; set {HEAVY}=1 to run it",
)
def test_codeformer_imports_through_dynamo_and_matches_torch(tmp_path: Path) -> None:
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    torch.manual_seed(0)
    net = CodeFormer(dim_embd=32, n_head=8, n_layers=1, codebook_size=16).eval()
    pack = _import(net, tmp_path)
    assert pack.manifest.task == "face-restore"
    assert _worst(pack, lambda x: net(x, weight=0.5)[0], [{"image": _faces(3)[0]}]) <= 1e-3


# --- LaMa ----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [14, 15])
def test_dft_matrices_match_torch_fft(width: int) -> None:
    x = torch.randn(2, 3, 10, width)
    re, im = rfft2(x)
    spectrum = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")
    assert float((re - spectrum.real).abs().max()) < 1e-5
    assert float((im - spectrum.imag).abs().max()) < 1e-5
    back = torch.fft.irfftn(spectrum, s=(10, width), dim=(-2, -1), norm="ortho")
    assert float((irfft2(spectrum.real, spectrum.imag, 10, width) - back).abs().max()) < 1e-5


@pytest.fixture(scope="module")
def lama(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, ModelPack]:
    """A random LaMa (its size is fixed by spandrel: 51M parameters) with batch-norm
    statistics away from the identity, imported from a checkpoint."""
    torch.manual_seed(0)
    net = LaMa(in_nc=4, out_nc=3).eval()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return net, _import(net, tmp_path_factory.mktemp("lama"))


@pytest.mark.slow
def test_lama_imports_with_dynamic_size_and_matches_torch(lama) -> None:
    net, pack = lama
    assert pack.manifest.task == "fill" and pack.manifest.size_rule.multiple_of == 8
    rng = np.random.default_rng(4)
    feeds = [
        {
            "image": rng.random((1, 3, h, w), dtype=np.float32),
            "mask": (rng.random((1, 1, h, w)) > 0.6).astype(np.float32),
        }
        for h, w in ((64, 64), (48, 96))
    ]
    assert _worst(pack, net, feeds) <= 1e-4
    with torch.no_grad():  # a real comparison: the hole is filled with varying values
        out = net(*(torch.from_numpy(v) for v in feeds[0].values()))
    assert float(out[feeds[0]["mask"].repeat(3, axis=1) > 0].std()) > 1e-3


@pytest.mark.slow
def test_fill_with_imported_lama_keeps_everything_outside_the_mask(lama) -> None:
    _, pack = lama
    photo = load_image(SAMPLES / "old_LadyBird.jpg").pixels[:200, :260]
    mask = np.zeros(photo.shape[:2], bool)
    mask[80:110, 100:150] = True
    registry = Registry(bundled=pack.path.parent / "none", user=pack.path.parent)
    result = fill_photo(photo, mask, FillOptions(model="it"), registry=registry)
    out = result.images["filled"]
    assert np.array_equal(out[~mask], photo[~mask])
    assert float(np.abs(out[mask] - photo[mask]).max()) > 0.01


# --- DDColor ---------------------------------------------------------------------------


@pytest.mark.slow
def test_ddcolor_imports_as_gray_in_rgb_out_and_colorizes_keeping_luma(tmp_path: Path) -> None:
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(0)
    net = DDColor(
        encoder_name="convnext-t", num_queries=8, dec_layers=1, num_output_channels=2
    ).eval()
    # Spectral norm divides each weight by u.Wv; with the random u and v of a fresh
    # module (never iterated, unlike a trained checkpoint's) that is tiny, and a/b reach
    # 1e12, which the Lab -> RGB step clips to 0 or 1 everywhere. Converged u and v
    # (the top singular vectors) keep a/b in a few units.
    with torch.no_grad():
        for module in net.modules():
            if hasattr(module, "weight_u"):
                u, _, vh = torch.linalg.svd(module.weight_orig.flatten(1), full_matrices=False)
                module.weight_u.copy_(u[:, 0])
                module.weight_v.copy_(vh[0])
    pack = _import(net, tmp_path)
    manifest = pack.manifest
    assert manifest.task == "colorize" and manifest.size_rule.fixed == (256, 256)
    assert [t.name for t in manifest.inputs] == ["gray"] and manifest.outputs[0].name == "rgb"
    gray = load_image(SAMPLES / "old_grace_hopper.jpg").pixels
    # a writable copy: torch.from_numpy below refuses to share a read-only array quietly
    small = arrays.resize_plane(arrays.luma(gray), 256, 256)[None, None].copy()
    session = open_session(pack.model_path, device="cpu")
    (rgb,) = session.run({"gray": small})
    assert float(((rgb == 0) | (rgb == 1)).mean()) < 0.5 and float(rgb.std()) > 0.02
    spandrel = import_spandrel()
    descriptor = spandrel.ModelLoader().load_from_state_dict(net.state_dict())
    with torch.no_grad():
        expected = descriptor(torch.from_numpy(small)).numpy()
    assert float(np.abs(rgb - expected).max()) <= 1e-4
    registry = Registry(bundled=tmp_path / "none", user=pack.path.parent)
    out = colorize_photo(gray, ColorizeOptions(model="it"), registry=registry)
    coloured = out.images["colorized"]
    assert np.abs(arrays.luma(coloured) - arrays.luma(gray)).max() < 1e-4

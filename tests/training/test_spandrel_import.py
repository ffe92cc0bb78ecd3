"""Checkpoints of every claimed spandrel architecture, imported through ``heirloom models
import`` and checked against the torch network they were saved from.

Each network is random-initialised with spandrel's own architecture class in a small
configuration, saved as a user would find it (``.pth`` state dict or ``.safetensors``),
imported by the CLI into a temporary user folder, and the installed pack is run by the
engine's runtime at two sizes beside the original torch module.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("spandrel") is None:
    pytest.skip("spandrel (the train extra) is not installed", allow_module_level=True)

import torch
from safetensors.torch import save_file
from torch import nn

from commands import heirloom
from engine.models import ModelPack, Registry
from engine.runtime import open_session
from engine.tiling import padded_size
from training.compat import META, import_spandrel
from training.convert.__main__ import main as convert_cli
from training.convert.spandrel_archs import ARCHS

import_spandrel()
from spandrel.architectures.Compact import Compact  # noqa: E402 - after the torchvision shim
from spandrel.architectures.DnCNN import DnCNN  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402
from spandrel.architectures.NAFNet import NAFNet  # noqa: E402
from spandrel.architectures.SCUNet import SCUNet  # noqa: E402
from spandrel.architectures.SPAN import SPAN  # noqa: E402
from spandrel.architectures.SwinIR import SwinIR  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    arch: str
    build: Callable[[], nn.Module]
    suffix: str
    task: str
    scale: int


CASES = [
    Case(
        "Compact",
        lambda: Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2),
        ".pth",
        "upscale",
        2,
    ),
    Case(
        "ESRGAN",
        lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4),
        ".safetensors",
        "upscale",
        4,
    ),
    Case(
        "SwinIR",
        lambda: SwinIR(
            upscale=2,
            in_chans=3,
            img_size=16,
            window_size=4,
            embed_dim=12,
            depths=[1],
            num_heads=[2],
            mlp_ratio=2,
            upsampler="pixelshuffle",
        ),
        ".pth",
        "upscale",
        2,
    ),
    Case(
        "SPAN",
        lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=1),
        ".safetensors",
        "denoise",  # an upscaler's architecture at scale 1 serves the restore stage
        1,
    ),
    Case(
        "SCUNet",
        lambda: SCUNet(in_nc=3, config=[1, 1, 1, 1, 1, 1, 1], dim=64),
        ".pth",
        "denoise",
        1,
    ),
    Case(
        "NAFNet",
        lambda: NAFNet(
            img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1], dec_blk_nums=[1]
        ),
        ".safetensors",
        "denoise",
        1,
    ),
]


def _save(net: nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def test_every_claimed_architecture_has_a_case() -> None:
    """Upscalers and denoisers here; face, fill and colorize ones in
    test_spandrel_faces_fill_colorize.py."""
    claimed = {a for a, s in ARCHS.items() if s.status == "supported"}
    assert {c.arch for c in CASES} == {a for a in claimed if ARCHS[a].task in TASKS}


TASKS = ("upscale", "denoise")


def _convert(checkpoint: Path, home: Path, name: str) -> int:
    """What ``heirloom models import`` runs in its own process, run here in this one
    (each process pays seconds of torch import on a busy machine)."""
    target = home / "models" / name
    return convert_cli(["spandrel", str(checkpoint), "-o", str(target), "--name", name])


def _check_pack(pack: ModelPack, case: Case, net: nn.Module) -> None:
    """Manifest as the table says; ONNX Runtime against the torch net at two sizes."""
    manifest, spec = pack.manifest, ARCHS[case.arch]
    assert (manifest.task, manifest.options["scale"]) == (case.task, case.scale)
    assert manifest.licence == spec.licence
    assert manifest.provenance["spandrel_architecture"] == case.arch
    card = pack.card_path.read_text(encoding="utf-8")
    assert manifest.provenance["source_sha256"] in card and case.arch in card
    session = open_session(pack.model_path, device="cpu")
    rng = np.random.default_rng(1)
    sizes = {padded_size(h, w, manifest.size_rule) for h, w in spec.parity_sizes}
    assert len(sizes) == 2
    for height, width in sizes:
        x = rng.random((1, 3, height, width), dtype=np.float32)
        with torch.no_grad():
            expected = net(torch.from_numpy(x)).numpy()
        (got,) = session.run({manifest.inputs[0].name: x})
        assert got.shape == (1, 3, height * case.scale, width * case.scale)
        assert float(np.abs(got - expected).max()) <= 1e-4, (height, width)


def _installed(home: Path, name: str) -> ModelPack:
    return Registry(bundled=home / "none", user=home / "models").get(name)


def test_the_cli_imports_a_checkpoint_under_its_file_name(tmp_path: Path) -> None:
    case = CASES[0]
    torch.manual_seed(0)
    net = case.build().eval()
    checkpoint = _save(net, tmp_path / f"My {case.arch} x2{case.suffix}")
    home = tmp_path / "home"
    done = heirloom("models", "import", checkpoint, home=home)
    assert done.returncode == 0, done.stderr
    _check_pack(_installed(home, "my-compact-x2"), case, net)
    again = heirloom("models", "import", checkpoint, home=home)
    assert again.returncode == 2 and "use --overwrite" in again.stderr


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.arch)
def test_import_matches_torch_at_two_sizes(case: Case, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = case.build().eval()
    checkpoint = _save(net, tmp_path / f"net{case.suffix}")
    assert _convert(checkpoint, tmp_path / "home", "imported") == 0
    _check_pack(_installed(tmp_path / "home", "imported"), case, net)


def _import(path: Path, home: Path) -> subprocess.CompletedProcess:
    return heirloom("models", "import", path, home=home)


def _refused(done: subprocess.CompletedProcess, home: Path) -> str:
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("heirloom: error:"), done.stderr
    models = home / "models"
    assert not models.exists() or not [p for p in models.iterdir()]  # no half-written pack
    return lines[0]


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "holiday.pth"
    junk.write_bytes(b"these are not weights" * 10)
    line = _refused(_import(junk, tmp_path / "home"), tmp_path / "home")
    assert "is not a readable checkpoint" in line


def _refused_here(path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert _convert(path, home, "refused") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert not (home / "models" / "refused").exists()
    return lines[0]


def test_weights_of_no_known_architecture_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mystery.safetensors"
    save_file({"encoder.weight": torch.zeros(4, 3, 3, 3)}, str(path))
    line = _refused_here(path, tmp_path / "home", capsys)
    assert "spandrel does not recognise" in line and "heirloom models supported" in line


def test_an_architecture_not_in_the_table_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    net = DnCNN(in_nc=1, out_nc=1, nc=8, nb=8, act_mode="R")
    path = _save(net, tmp_path / "dncnn.pth")
    line = _refused_here(path, tmp_path / "home", capsys)
    assert "(DnCNN) model, which Heirloom cannot import yet" in line
    assert "Compact" in line and "'heirloom models supported'" in line


def test_supported_lists_the_table(tmp_path: Path) -> None:
    done = heirloom("models", "supported", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    for arch, spec in ARCHS.items():
        assert spec.licence in rows[arch] and spec.task in rows[arch]


SHIM = """
import sys, torch, torch.library
real = torch.library.register_fake
def refuse(op, *args, **kwargs):
    # what a torchvision built for another torch meets: its compiled ops never loaded
    if isinstance(op, str) and op.startswith("torchvision::"):
        raise RuntimeError(f"operator {op} does not exist")
    return real(op, *args, **kwargs)
torch.library.register_fake = refuse
from training.compat import META, import_spandrel
spandrel = import_spandrel()
from torchvision.transforms.functional import normalize
print(sorted(k for k in vars(sys.modules[META]) if not k.startswith("__")))
"""


def test_spandrel_imports_when_torchvision_ops_cannot_load() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SHIM], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # the empty stand-in, not the real registrations


def test_a_matching_torchvision_is_left_alone() -> None:
    import torchvision.extension

    if not torchvision.extension._has_ops():
        pytest.skip("this torchvision does not match torch (the shim test covers that case)")
    assert hasattr(sys.modules[META], "meta_nms")  # the real registrations, not the stand-in

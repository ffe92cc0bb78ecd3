"""Models ▸ Import with a checkpoint file: converted off the GUI thread by the same
converter ``heirloom models import`` runs, the new pack offered where its task is used,
and a refusal shown as the converter's one line in a message box, with nothing written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from gui.upscale import upscale_pack_names

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
NEEDS_SPANDREL = pytest.mark.skipif(
    importlib.util.find_spec("spandrel") is None,
    reason="converting a checkpoint needs torch and spandrel (the train extra)",
)
CONVERSION_TIMEOUT_MS = 300_000  # a child process importing torch on a busy machine


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(title, text) of every warning box the window shows, instead of showing it."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda _parent, title, text: shown.append((title, text))
    )
    return shown


def _tiny_compact(path: Path) -> Path:
    """A random-initialised SRVGGNetCompact (x2, 4 features, 1 conv) saved as users
    find them: a state dict in a .pth file."""
    import torch

    from training.compat import import_spandrel

    import_spandrel()  # torchvision's compiled ops may not match this torch
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=2)
    torch.save(net.state_dict(), path)
    return path


def _user_packs(window) -> list[str]:  # noqa: ANN001 - the app window fixture
    user = window.context.registry.user
    return sorted(p.name for p in user.iterdir()) if user.is_dir() else []


@NEEDS_SPANDREL
def test_an_imported_checkpoint_appears_in_upscale_and_restore(
    window, qtbot, tmp_path: Path, warnings
) -> None:
    checkpoint = _tiny_compact(tmp_path / "Tiny Compact x2.pth")
    assert window.open_now(SAMPLES / "old_LadyBird.jpg")
    assert "tiny-compact-x2" not in upscale_pack_names(window.context)
    assert window.restore.upscale.findData("tiny-compact-x2") == -1
    before = _user_packs(window)

    window.import_pack(checkpoint)
    assert window.checkpoints.busy and not window.import_action.isEnabled()
    assert window.import_label.text() == "Importing Tiny Compact x2.pth…"
    assert not window.import_label.isHidden() and not window.import_progress.isHidden()
    window.import_pack(checkpoint)  # a second import while one runs is refused
    assert "one import at a time" in window.statusBar().currentMessage()

    ticks: list[bool] = []  # the GUI thread's timers fire while the converter runs
    timer = QTimer(window)
    timer.timeout.connect(lambda: ticks.append(window.checkpoints.busy))
    timer.start(50)
    with qtbot.waitSignal(window.checkpoints.busy_changed, timeout=CONVERSION_TIMEOUT_MS):
        pass
    timer.stop()
    assert ticks.count(True) >= 5
    assert warnings == []
    assert not window.checkpoints.busy and window.import_action.isEnabled()
    assert window.import_label.isHidden() and window.import_progress.isHidden()
    assert window.statusBar().currentMessage() == (
        "Imported tiny-compact-x2 for upscale: now in Tools ▸ Upscale and Restore's Upscale"
    )
    assert _user_packs(window) == sorted([*before, "tiny-compact-x2"])
    assert upscale_pack_names(window.context)[0] == "tiny-compact-x2"
    assert window.upscale_tool.action.isEnabled()
    assert "tiny-compact-x2" in window.upscale_tool.action.toolTip()
    assert window.restore.upscale.findData("tiny-compact-x2") >= 0


@NEEDS_SPANDREL
def test_a_file_that_is_no_checkpoint_gives_one_line_and_writes_nothing(
    window, qtbot, tmp_path: Path, warnings
) -> None:
    junk = tmp_path / "holiday.pth"
    junk.write_bytes(b"these are not weights" * 10)
    before = _user_packs(window)
    with qtbot.waitSignal(window.checkpoints.failed, timeout=CONVERSION_TIMEOUT_MS):
        window.import_pack(junk)
    assert len(warnings) == 1
    title, text = warnings[0]
    assert title == "Cannot import the checkpoint"
    assert "is not a readable checkpoint" in text
    assert "\n" not in text and "Traceback" not in text
    assert _user_packs(window) == before
    assert window.import_action.isEnabled()


def test_without_torch_the_box_says_how_to_install_it(
    window, qtbot, tmp_path: Path, warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    checkpoint = tmp_path / "RealESRGAN_x4plus.pth"
    checkpoint.write_bytes(b"weights")
    before = _user_packs(window)
    with qtbot.waitSignal(window.checkpoints.failed, timeout=10_000):
        window.import_pack(checkpoint)
    assert warnings == [
        (
            "Cannot import the checkpoint",
            "importing a checkpoint needs torch, which this installation lacks; "
            "install with: pip install 'heirloom[train]' (torch and spandrel)",
        )
    ]
    assert _user_packs(window) == before


def test_a_pack_of_the_same_name_is_replaced_only_when_the_user_says_so(
    window, tmp_path: Path, warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = window.context.registry.user / "realesrgan_x4plus"
    installed.mkdir(parents=True)
    asked: list[str] = []

    def answer_no(_parent, _title, text, *_buttons):  # noqa: ANN001, ANN202 - a Qt static
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer_no)
    checkpoint = tmp_path / "RealESRGAN_x4plus.pth"
    checkpoint.write_bytes(b"weights")
    window.import_pack(checkpoint)
    assert len(asked) == 1 and "'realesrgan_x4plus' is already installed" in asked[0]
    assert not window.checkpoints.busy and warnings == []
    assert list(installed.iterdir()) == []  # kept as it was

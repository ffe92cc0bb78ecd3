"""Where the app offers imported models: the Restore panel's Faces with, the Diffuse
panel's Fill with, and Tools › Colorize; each is disabled and says why until a pack of
its task is installed, and each runs the chosen pack."""

from pathlib import Path

import numpy as np

from engine import arrays
from graphs import colorize_pack, face_restore_pack, fill_pack

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_faces_with_lists_face_restorers_once_one_is_installed(window):
    panel = window.restore
    assert not panel.face_model.isEnabled()
    assert "import a GFPGAN" in panel.face_model.toolTip()
    face_restore_pack(window.context.registry.user)
    window._packs_changed()  # what an import through the Models menu calls
    assert panel.face_model.isEnabled()
    panel.face_model.setCurrentIndex(panel.face_model.findData("tiny-face-restore"))
    assert panel._options().face_model == "tiny-face-restore"
    panel.faces.setChecked(False)  # no face pass, nothing to choose
    assert not panel.face_model.isEnabled() and panel._options().face_model is None


def test_fill_with_an_imported_model_changes_the_mask_only(window, qtbot):
    user = window.context.registry.user
    fill_pack(user)
    assert window.open_now(SAMPLES / "old_EveningGlow.jpg")
    panel = window.diffuse
    window.tabs.setCurrentIndex(2)
    panel.mode.setCurrentIndex(panel.mode.findData("edit"))
    assert not panel.fill_with.isEnabled()  # Inpaint only
    panel.mode.setCurrentIndex(panel.mode.findData("inpaint"))
    assert panel.fill_with.isEnabled() and panel.fill_with.itemText(0).startswith("DDPM")
    panel.fill_with.setCurrentIndex(panel.fill_with.findData("tiny-fill"))
    assert panel.run.isEnabled()  # no diffusion pack needed for a one-pass fill
    assert not panel.steps.isEnabled() and not panel.draws.isEnabled()
    document = window.context.document
    document.mask[40:60, 50:120] = 255
    panel.run.click()
    qtbot.waitUntil(lambda: document.result is not None, timeout=60000)
    assert panel.status.text().startswith("Filled with tiny-fill")
    changed = np.abs(document.result - document.photo).max(axis=2) > 1e-6
    assert changed[50, 80] and not changed[~(document.mask >= 128)].any()


def test_tools_colorize_keeps_the_photo_luminance(window, qtbot):
    tool = window.colorize_tool
    assert window.open_now(SAMPLES / "old_LadyBird.jpg")
    tool.refresh()
    assert not tool.action.isEnabled() and "DDColor" in tool.action.toolTip()
    colorize_pack(window.context.registry.user)
    tool.refresh()
    assert tool.action.isEnabled()
    document = window.context.document
    tool.action.trigger()
    qtbot.waitUntil(lambda: document.result is not None, timeout=60000)
    result = document.result
    assert result.shape[:2] == document.photo.shape[:2]
    assert np.abs(arrays.luma(result) - arrays.luma(document.photo)).max() < 1e-4
    assert float(np.abs(result[..., 0] - result[..., 2]).mean()) > 0.05  # it has colour

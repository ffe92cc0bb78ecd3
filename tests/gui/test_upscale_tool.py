"""Tools › Upscale and the Restore panel's Network / Upscale choices, on a real sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.images import load_image
from engine.models import Registry
from gui.document import Layer
from gui.export_dialog import export_layer
from gui.project import load_project, save_project
from gui.upscale import NO_PACK

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "old_LadyBird.jpg"


def _with_packs(window, helpers, tmp_path: Path) -> Registry:
    """The window's tiny packs plus a tiny x2 upscaler and a tiny denoiser."""
    models = window.context.registry.user
    helpers.upscale_pack(models)
    helpers.denoise_pack(models)
    window.context.registry = Registry(tmp_path / "no-bundled", models)
    window._packs_changed()
    return window.context.registry


def test_without_an_upscale_pack_upscale_is_disabled_and_says_why(window) -> None:
    assert window.open_now(SAMPLE)
    action = window.upscale_tool.action
    assert not action.isEnabled() and action.toolTip() == NO_PACK
    panel = window.restore
    assert not panel.upscale.isEnabled() and NO_PACK in panel.upscale.toolTip()
    assert panel._options().upscale is None


def test_upscale_puts_the_enlarged_photo_on_the_result_layer(
    window, helpers, qtbot, tmp_path: Path
) -> None:
    _with_packs(window, helpers, tmp_path)
    assert window.open_now(SAMPLE)
    document = window.context.document
    action = window.upscale_tool.action
    assert action.isEnabled() and "tiny-upscale" in action.toolTip()
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        action.trigger()
    height, width = document.height, document.width
    assert document.result.shape == (2 * height, 2 * width, 3)
    assert document.result_rgb8.shape == (height, width, 3)  # shown over the photo
    assert document.undo.text(document.undo.count() - 1) == "Upscale"
    assert "Upscaled x2" in window.statusBar().currentMessage()

    exported = export_layer(document, Layer.RESULT, tmp_path / "big.png", 8, 95)
    assert load_image(exported).pixels.shape[:2] == (2 * height, 2 * width)
    project = tmp_path / "photo.heirloom"
    save_project(document, project)
    reopened = load_project(project)
    assert reopened.result.shape == document.result.shape  # the project keeps full size
    assert np.abs(reopened.result - document.result).max() < 1 / 4096  # 16-bit layer
    document.undo.setClean()


def test_restore_panel_offers_denoisers_and_an_upscale_stage(
    window, helpers, qtbot, tmp_path: Path
) -> None:
    _with_packs(window, helpers, tmp_path)
    assert window.open_now(SAMPLE)
    panel = window.restore
    networks = [panel.network.itemData(i) for i in range(panel.network.count())]
    assert networks == ["tiny-restore", "tiny-denoise"]  # the default restorer first
    upscalers = [panel.upscale.itemData(i) for i in range(panel.upscale.count())]
    assert upscalers == [None, "tiny-upscale"] and panel.upscale.isEnabled()
    assert panel._options().upscale is None  # Off unless chosen: Restore behaves as before

    panel.network.setCurrentIndex(1)
    panel.upscale.setCurrentIndex(1)
    document = window.context.document
    with qtbot.waitSignal(window.bridge.finished, timeout=60000) as finished:
        panel.run.click()
    info = finished.args[0].info
    assert info["model"] == "tiny-denoise" and info["upscaled"] == "x2 with tiny-upscale"
    assert document.result.shape[:2] == (2 * document.height, 2 * document.width)
    assert "Upscaled x2 with tiny-upscale" in panel.status.text()

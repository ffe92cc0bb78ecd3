"""`make screenshots`: the app's workspaces with real content, rendered to PNG files.

    python -m gui.screenshots out/screenshots

Each shot drives the real window: it opens a bundled sample, presses the panel's
buttons and waits for the real jobs. A shot whose model pack is not installed is
skipped with the reason (``make models`` builds the packs); nothing is faked. The
restore shot falls back to the sample's recorded damage mask when no scratch-detect
pack exists, and says so in the panel's status line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from engine.errors import PackError  # noqa: E402
from engine.images import load_image  # noqa: E402
from gui.app import exit_now, make_application  # noqa: E402
from gui.document import Layer  # noqa: E402
from gui.settings import Settings  # noqa: E402
from gui.window import MainWindow  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
SIZE = (1440, 900)


def _has(window: MainWindow, task: str) -> bool:
    try:
        window.context.registry.for_task(task)
    except PackError:
        return False
    return True


def _run(window: MainWindow, click: Callable[[], None], timeout_s: float = 600) -> bool:
    """Press a button and wait for its job to end; True when it produced a result."""
    loop = QEventLoop()
    outcome: list[bool] = []
    bridge = window.bridge

    def done(ok: bool) -> None:
        outcome.append(ok)
        loop.quit()

    handlers = [
        (bridge.finished, lambda _r: done(True)),
        (bridge.failed, lambda *_a: done(False)),
        (bridge.cancelled, lambda: done(False)),
    ]
    for signal, handler in handlers:
        signal.connect(handler)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    click()
    if not outcome:
        loop.exec()
    for signal, handler in handlers:
        signal.disconnect(handler)
    _settle()
    return bool(outcome and outcome[0])


def _settle(ms: int = 80) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _save(window: MainWindow, out: Path, name: str) -> Path:
    _settle()
    path = out / f"{name}.png"
    window.grab().save(str(path))
    print(f"  {path}")
    return path


def render(out: Path) -> list[str]:
    """Render every shot into ``out``; returns the reasons for any skipped shots."""
    out.mkdir(parents=True, exist_ok=True)
    make_application()
    window = MainWindow(Settings(), offer_recovery=False)
    window.resize(*SIZE)
    window.show()
    skipped: list[str] = []
    _save(window, out, "0-welcome")

    # Restore: the damage mask over an old portrait, then the result and compare view
    window.open_now(SAMPLES / "old_grace_hopper.jpg")
    panel, document = window.restore, window.context.document
    assert document is not None
    if _has(window, "scratch-detect"):
        _run(window, panel.find.click)
    else:
        recorded = load_image(SAMPLES / "old_grace_hopper_mask.png").pixels[..., 0] > 0.5
        document.edit_plane(Layer.MASK, np.where(recorded, 255, 0).astype(np.uint8), "Mask")
        panel.status.setText(
            "No scratch-detect pack is installed: showing the sample's recorded damage mask."
        )
        skipped.append("damage detection: no scratch-detect pack (showed the recorded mask)")
    window.canvas.set_brush(radius=14)
    _save(window, out, "1-restore-mask")
    if _has(window, "restore"):
        _run(window, panel.run.click)
        _save(window, out, "2-restore-result")
        window.compare_action.setChecked(True)
        window._compare(True)
        _save(window, out, "3-compare")
        window.compare_action.setChecked(False)
        window._compare(False)
    else:
        skipped.append("restore result and compare view: no restore pack installed")

    # Sketch: traced edges over the faded photo, and the generated photo when a pack exists
    window.open_now(SAMPLES / "old_LadyBird.jpg")
    window.tabs.setCurrentIndex(1)
    _run(window, window.sketch.trace.click)
    _save(window, out, "4-sketch-edges")
    if _has(window, "sketch2photo"):
        _run(window, lambda: window.sketch.generate(live=False))
        _save(window, out, "5-sketch-photo")
    else:
        skipped.append("sketch to photo: no sketch2photo pack installed")

    # Diffuse: a torn corner painted as the mask, then the denoising in progress
    window.open_now(SAMPLES / "old_EveningGlow.jpg")
    window.tabs.setCurrentIndex(2)
    document = window.context.document
    assert document is not None
    corner = np.zeros_like(document.mask)
    corner[-160:, -220:] = 255
    document.edit_plane(Layer.MASK, corner, "Torn corner")
    _save(window, out, "6-diffuse-mask")
    if _has(window, "ddpm-eps"):
        previews: list[int] = []
        window.bridge.preview.connect(lambda _i, step, _t: previews.append(step))
        window.bridge.preview.connect(
            lambda _i, step, total: (
                step >= total // 2
                and len(previews)
                and window.grab().save(str(out / "7-diffuse-preview.png"))
            )
        )
        _run(window, window.diffuse.run.click)
        _save(window, out, "8-diffuse-result")
        # Edit strokes: rough light blobs in the sky, re-imagined at strength 0.5
        panel = window.diffuse
        panel.mode.setCurrentIndex(panel.mode.findData("edit"))
        document.set_result(None, "Back to the photo")
        document.edit_plane(Layer.MASK, np.zeros_like(document.mask), "Clear mask")
        document.edit_plane(Layer.PAINT, cloud_blobs(document.width, document.height), "Clouds")
        window.canvas.set_layer_visible(Layer.PAINT, True)
        _save(window, out, "9-diffuse-strokes")
        _run(window, panel.run.click)
        _save(window, out, "10-diffuse-edit")
    else:
        skipped.append("diffusion preview: no ddpm-eps pack installed")
    document.undo.setClean()  # demo edits: nothing to keep, so closing does not ask
    window.close()
    return skipped


def cloud_blobs(width: int, height: int) -> np.ndarray:
    """An RGBA layer of a few soft light-grey ellipses high in the frame, as a user
    scribbles clouds."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paint = np.zeros((height, width, 4), np.uint8)
    for cx, cy, rx, ry in ((0.25, 0.12, 0.10, 0.05), (0.55, 0.08, 0.13, 0.045)):
        inside = ((xx / width - cx) / rx) ** 2 + ((yy / height - cy) / ry) ** 2 <= 1.0
        paint[inside] = (236, 238, 242, 255)
    return paint


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "out/screenshots")
    print(f"screenshots -> {out}")
    for reason in render(out):
        print(f"  skipped: {reason}")
    return 0


if __name__ == "__main__":
    exit_now(main())

"""`make screenshots`: each journey's key moments with real content, rendered to PNG.

    python -m gui.screenshots out/screenshots
    python -m gui.screenshots out/screenshots --only draw-into [--photo house.jpg \
        --region 0.3,0.1,0.7,0.45]      # one journey; the roof scene on any photo

Each shot drives the real window: it opens a bundled sample (or a blank page), paints
the mask or the lines, presses the panel's buttons and waits for the real jobs; the
diffusion shots catch a preview mid-run, then what Cancel leaves. A shot whose model
pack is not installed is skipped with the reason (``make models`` builds the packs);
nothing is faked. The restore shot falls back to the sample's recorded damage mask
when no scratch-detect pack exists, and says so in the panel's status line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from engine.errors import PackError  # noqa: E402
from engine.images import load_image  # noqa: E402
from gui.app import exit_now, make_application  # noqa: E402
from gui.document import Layer  # noqa: E402
from gui.settings import Settings  # noqa: E402
from gui.window import MainWindow  # noqa: E402
from gui.workspaces.sketch import blank_document  # noqa: E402

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


def render(out: Path, only: tuple[str, ...] = ()) -> list[str]:
    """Render every shot into ``out`` (or only the journeys named in ``only``, keys of
    :data:`JOURNEYS` or "shortcuts"); returns the reasons for any skipped shots."""
    out.mkdir(parents=True, exist_ok=True)
    make_application()
    window = MainWindow(Settings(), offer_recovery=False)
    window.resize(*SIZE)
    window.show()
    skipped: list[str] = []
    _save(window, out, "0-welcome")
    for name, journey in JOURNEYS.items():
        if only and name not in only:
            continue
        journey(window, out, skipped)
        document = window.context.document
        if document is not None:
            document.undo.setClean()  # demo edits: nothing to keep, nothing to ask
    if not only or "shortcuts" in only:
        shortcuts_shot(window, out)
    window.close()
    return skipped


def restore_shots(window: MainWindow, out: Path, skipped: list[str]) -> None:
    """Maria: the damage mask over an old portrait, the result, before | after."""
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
    if not _has(window, "restore"):
        skipped.append("restore result and compare view: no restore pack installed")
        return
    _run(window, panel.run.click)
    _save(window, out, "2-restore-result")
    window.compare_action.trigger()
    _save(window, out, "3-restore-compare")
    window.compare_action.trigger()


def sketch_shots(window: MainWindow, out: Path, skipped: list[str]) -> None:
    """Ken: a house drawn on a blank page and its photo; then lines traced from a photo."""
    panel = window.sketch
    window.tabs.setCurrentIndex(1)
    window.context.replace_document(blank_document(512, 384))
    document = window.context.document
    assert document is not None
    document.edit_plane(Layer.SKETCH, house_lines(512, 384), "Lines")
    _save(window, out, "4-sketch-blank-lines")
    has_pack = _has(window, "sketch2photo")
    if has_pack:
        _run(window, lambda: panel.generate(live=False))
        _save(window, out, "5-sketch-blank-photo")
    window.open_now(SAMPLES / "old_LadyBird.jpg")
    _run(window, panel.trace.click)
    _save(window, out, "6-sketch-traced")
    if has_pack:
        _run(window, lambda: panel.generate(live=False))
        _save(window, out, "7-sketch-traced-photo")
    else:
        skipped.append("sketch to photo: no sketch2photo pack installed")


# Draw into photo: the photo and the region (fractions of its width and height: x0, y0,
# x1, y1) of the roof scene. The default redraws the houses on the far shore of the
# lake; --photo and --region put the scene on any photo (a house's roof).
INTO_PHOTO = SAMPLES / "clean_EveningGlow.jpg"
INTO_REGION = (0.72, 0.2, 0.97, 0.47)
ROOF_RED = (120, 30, 25)


def draw_into_shots(
    window: MainWindow,
    out: Path,
    skipped: list[str],
    photo: Path | None = None,
    region: tuple[float, float, float, float] | None = None,
) -> None:
    """Ken redraws a roof: the region painted over it, the photo's edges traced into it,
    a steeper roof drawn and dabbed dark red; the live redraw; Apply, then before | after."""
    panel = window.sketch
    window.tabs.setCurrentIndex(window.workspaces.index(panel))
    window.open_now(photo or INTO_PHOTO)
    document = window.context.document
    assert document is not None
    panel.live.setChecked(False)  # each shot waits for its own run
    panel.mode.setCurrentIndex(panel.mode.findData("into"))
    box = _pixels(region or INTO_REGION, document.width, document.height)
    document.edit_plane(Layer.MASK, region_plane(box, document.width, document.height), "Region")
    _run(window, panel.trace_region.click)
    lines = document.sketch.copy()
    roof_lines(lines, box)
    document.edit_plane(Layer.SKETCH, lines, "Roof")
    document.edit_plane(Layer.PAINT, roof_colour(box, document.width, document.height), "Red")
    panel.set_colour(ROOF_RED)
    panel.paint_on(Layer.SKETCH)
    window.canvas.set_brush(radius=2)
    _save(window, out, "18-draw-into-region")
    if not _has(window, "sketch-into"):
        skipped.append("draw into photo: no sketch-into pack installed")
        return
    panel.live.setChecked(True)
    _run(window, lambda: panel.generate(live=True))
    _save(window, out, "19-draw-into-live")
    _run(window, panel.apply)  # Apply redraws at full size (the live preview is smaller)
    window.canvas.set_split((box[0] + box[2]) / 2)  # the split through the region
    window.compare_action.trigger()
    window.lines_action.trigger()  # lines and hints hidden: the redrawn pixels themselves
    window.canvas.set_layer_visible(Layer.PAINT, False)
    _save(window, out, "20-draw-into-compare")
    window.canvas.set_layer_visible(Layer.PAINT, True)
    window.lines_action.trigger()
    window.compare_action.trigger()
    panel.live.setChecked(False)


def _pixels(
    fractions: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = fractions
    return round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height)


def region_plane(box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """A mask plane with the region painted as a user does: a rounded blob over ``box``."""
    plane = Image.new("L", (width, height), 0)
    ImageDraw.Draw(plane).rounded_rectangle(
        box, radius=min(box[2] - box[0], box[3] - box[1]) // 5, fill=255
    )
    return np.asarray(plane, np.uint8).copy()


def roof_lines(lines: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Draw, into the sketch plane ``lines``, a house with a steep gable roof filling the
    middle of ``box`` (the traced lines under the new roof are erased first)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left, right, ridge = x0 + 0.15 * w, x0 + 0.85 * w, y0 + 0.12 * h
    eaves, ground = y0 + 0.55 * h, y0 + 0.9 * h
    page = Image.fromarray(lines)
    draw = ImageDraw.Draw(page)
    draw.rectangle((left, ridge, right, ground), fill=255)  # the old roof line goes
    draw.line(
        (left - 0.05 * w, eaves, (left + right) / 2, ridge, right + 0.05 * w, eaves),
        fill=0,
        width=2,
    )
    draw.rectangle((left + 0.05 * w, eaves, right - 0.05 * w, ground), outline=0, width=2)
    draw.rectangle((x0 + 0.45 * w, y0 + 0.68 * h, x0 + 0.55 * w, ground), outline=0, width=2)
    lines[:] = np.asarray(page, np.uint8)


def roof_colour(box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """An RGBA layer with dark red dabbed on the roof, as a user dabs with the colour brush."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    paint = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(paint)
    cx, cy = x0 + 0.5 * w, y0 + 0.38 * h
    draw.line(
        (cx - 0.2 * w, cy + 0.06 * h, cx + 0.2 * w, cy + 0.06 * h),
        fill=(*ROOF_RED, 255),
        width=max(3, h // 20),
    )
    draw.line(
        (cx - 0.08 * w, cy - 0.08 * h, cx + 0.08 * w, cy - 0.08 * h),
        fill=(*ROOF_RED, 255),
        width=max(3, h // 20),
    )
    return np.asarray(paint, np.uint8).copy()


def diffuse_shots(window: MainWindow, out: Path, skipped: list[str]) -> None:
    """Ana: small holes painted as the mask, the fill mid-run, what Cancel leaves, the
    finished fill; then colour strokes re-imagined."""
    window.open_now(SAMPLES / "old_EveningGlow.jpg")
    window.tabs.setCurrentIndex(2)
    panel, document = window.diffuse, window.context.document
    assert document is not None
    document.edit_plane(Layer.MASK, hole_strokes(document.width, document.height), "Holes")
    _save(window, out, "8-diffuse-mask")
    if not _has(window, "ddpm-eps"):
        skipped.append("diffusion: no ddpm-eps pack installed")
        return
    _run_and_cancel(window, panel.run.click, out, "9-diffuse-preview-midrun")
    _save(window, out, "10-diffuse-after-cancel")
    _run(window, panel.run.click)
    _save(window, out, "11-diffuse-result")
    panel.mode.setCurrentIndex(panel.mode.findData("edit"))
    document.set_result(None, "Back to the photo")
    document.edit_plane(Layer.MASK, np.zeros_like(document.mask), "Clear mask")
    document.edit_plane(Layer.PAINT, cloud_blobs(document.width, document.height), "Clouds")
    window.canvas.set_layer_visible(Layer.PAINT, True)
    _save(window, out, "12-diffuse-strokes")
    _run(window, panel.run.click)
    _save(window, out, "13-diffuse-edit")


def generate_shots(window: MainWindow, out: Path, skipped: list[str]) -> None:
    """Generate from noise: a new page mid-run, Cancel brings the photo back, a sample."""
    if not _has(window, "ddpm-eps"):
        return  # said by diffuse_shots
    panel = window.diffuse
    panel.mode.setCurrentIndex(panel.mode.findData("generate"))
    _run_and_cancel(window, panel.run.click, out, "14-generate-preview-midrun")
    _save(window, out, "15-generate-after-cancel")
    _run(window, panel.run.click)
    _save(window, out, "16-generate-result")


def shortcuts_shot(window: MainWindow, out: Path) -> None:
    """Help › Keyboard Shortcuts over the window."""
    from gui.shortcuts import ShortcutsDialog

    dialog = ShortcutsDialog(window.actions(), window)
    dialog.show()
    _settle()
    path = out / "17-shortcuts.png"
    dialog.grab().save(str(path))
    print(f"  {path}")
    dialog.close()


def _run_and_cancel(window: MainWindow, click: Callable[[], None], out: Path, name: str) -> None:
    """Press a button, save a shot when a placed preview is a third of the way, then
    press the status bar's Cancel."""
    caught: list[bool] = []

    def catch(_image: object, step: int, total: int) -> None:
        if not caught and step * 3 >= total and window.canvas.preview_shown:
            caught.append(True)
            _save(window, out, name)
            QTimer.singleShot(0, window.cancel_button.click)

    window.bridge.preview.connect(catch)
    _run(window, click)
    window.bridge.preview.disconnect(catch)


def house_lines(width: int, height: int) -> np.ndarray:
    """A sketch plane (0 = line on 255 = paper): a house with a door and a window, as an
    artist draws it on a blank page."""
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    w, h = width, height
    draw.rectangle((0.25 * w, 0.45 * h, 0.75 * w, 0.9 * h), outline=0, width=2)
    draw.line((0.2 * w, 0.47 * h, 0.5 * w, 0.15 * h, 0.8 * w, 0.47 * h), fill=0, width=2)
    draw.rectangle((0.44 * w, 0.65 * h, 0.56 * w, 0.9 * h), outline=0, width=2)
    draw.rectangle((0.3 * w, 0.55 * h, 0.4 * w, 0.68 * h), outline=0, width=2)
    draw.line((0.0, 0.9 * h, w, 0.9 * h), fill=0, width=2)
    return np.asarray(page, np.uint8).copy()


def hole_strokes(width: int, height: int) -> np.ndarray:
    """A mask plane with a few thin brush strokes, as a user paints over small tears."""
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for x0, y0, x1, y1 in ((0.3, 0.3, 0.36, 0.34), (0.62, 0.55, 0.64, 0.66), (0.8, 0.2, 0.86, 0.2)):
        draw.line((x0 * width, y0 * height, x1 * width, y1 * height), fill=255, width=9)
    return np.asarray(mask, np.uint8).copy()


def cloud_blobs(width: int, height: int) -> np.ndarray:
    """An RGBA layer of a few soft light-grey ellipses high in the frame, as a user
    scribbles clouds."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paint = np.zeros((height, width, 4), np.uint8)
    for cx, cy, rx, ry in ((0.25, 0.12, 0.10, 0.05), (0.55, 0.08, 0.13, 0.045)):
        inside = ((xx / width - cx) / rx) ** 2 + ((yy / height - cy) / ry) ** 2 <= 1.0
        paint[inside] = (236, 238, 242, 255)
    return paint


JOURNEYS: dict[str, Callable[[MainWindow, Path, list[str]], None]] = {
    "restore": restore_shots,
    "sketch": sketch_shots,
    "diffuse": diffuse_shots,
    "generate": generate_shots,
    "draw-into": draw_into_shots,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gui.screenshots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", nargs="?", default="out/screenshots", type=Path)
    parser.add_argument(
        "--only", action="append", choices=[*JOURNEYS, "shortcuts"], help="this journey only"
    )
    parser.add_argument("--photo", type=Path, help="draw-into: the photo (a house)")
    parser.add_argument(
        "--region", help="draw-into: the roof's box as fractions x0,y0,x1,y1 of the photo"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.photo or args.region:
        region = tuple(float(v) for v in args.region.split(",")) if args.region else None
        if region is not None and len(region) != 4:
            parser.error("--region takes four fractions: x0,y0,x1,y1")
        JOURNEYS["draw-into"] = lambda w, o, s: draw_into_shots(w, o, s, args.photo, region)  # type: ignore[arg-type]
    print(f"screenshots -> {args.out}")
    for reason in render(args.out, tuple(args.only or ())):
        print(f"  skipped: {reason}")
    return 0


if __name__ == "__main__":
    exit_now(main())

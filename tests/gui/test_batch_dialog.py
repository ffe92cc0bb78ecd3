"""The batch dialog restores a folder, skipping a broken file with its reason."""

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt

from gui.batch import BatchDialog

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_batch_restores_a_folder_and_reports_the_broken_file(window, qtbot, tmp_path):
    scans, results = tmp_path / "scans", tmp_path / "restored"
    scans.mkdir()
    for name in ("old_LadyBird.jpg", "old_EveningGlow.jpg"):
        Image.open(SAMPLES / name).resize((96, 64)).save(scans / name)
    (scans / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    dialog = BatchDialog(window.context, window)
    qtbot.addWidget(dialog)
    dialog.source.setText(str(scans))
    dialog.target.setText(str(results))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.summary.text() != "", timeout=60_000)
    assert dialog.summary.text().startswith("2 of 3 restored, 1 skipped")
    statuses = {
        dialog.table.item(row, 0).text(): dialog.table.item(row, 1).text()
        for row in range(dialog.table.rowCount())
    }
    assert statuses["broken.jpg"].startswith("skipped: ")
    assert statuses["old_LadyBird.jpg"].startswith("restored")
    assert sorted(p.name for p in results.iterdir()) == ["old_EveningGlow.jpg", "old_LadyBird.jpg"]
    assert dialog.start_button.isEnabled() and not dialog.stop_button.isEnabled()

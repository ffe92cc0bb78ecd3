"""Model packs in the app: the installed list with cards, Import… and About.

Import takes a checkpoint file (converted by gui.checkpoint_import) or a pack folder.
A pack is shown by its model card (MODEL_CARD.md, rendered as Markdown) before it is
imported, so the user sees the licence, the data and the provenance before the pack
is validated and copied by :meth:`engine.models.Registry.import_pack`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.buildinfo import build_info
from engine.errors import HeirloomError
from engine.licences import notices_text
from engine.models import CARD_FILE, MANIFEST_FILE, ModelPack, Registry, read_pack


def card_text(pack: ModelPack) -> str:
    try:
        return pack.card_path.read_text(encoding="utf-8")
    except OSError:
        return f"# {pack.name}\n\n(no model card)"


class PackList(QWidget):
    """Packs on the left, the selected pack's card on the right."""

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setMinimumWidth(240)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(True)
        layout.addWidget(self.list)
        layout.addWidget(self.card, 1)
        self.list.currentItemChanged.connect(self._show)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        for pack in self.registry.packs():
            item = QListWidgetItem(f"{pack.name}\n{pack.manifest.task} · {pack.origin}")
            item.setData(256, pack)
            self.list.addItem(item)
        for folder, reason in self.registry.broken.items():
            item = QListWidgetItem(f"{folder.name} (broken)")
            item.setToolTip(reason)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def _show(self, item: QListWidgetItem | None) -> None:
        pack = item.data(256) if item is not None else None
        if isinstance(pack, ModelPack):
            self.card.setMarkdown(card_text(pack))
        elif item is not None:
            self.card.setPlainText(item.toolTip())


class ModelsDialog(QDialog):
    """Installed packs with their cards; Import… is the window's Models ▸ Import."""

    def __init__(
        self, registry: Registry, on_import: Callable[[], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Installed models")
        self.resize(860, 520)
        layout = QVBoxLayout(self)
        self.packs = PackList(registry)
        layout.addWidget(self.packs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        importer = buttons.addButton("Import…", QDialogButtonBox.ButtonRole.ActionRole)
        importer.clicked.connect(on_import)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class CardPreview(QDialog):
    """A pack's card before import: Import or Cancel."""

    def __init__(self, pack: ModelPack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {pack.name}?")
        self.resize(720, 520)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"<b>{pack.manifest.title or pack.name}</b> — {pack.manifest.task}, "
                f"licence {pack.manifest.licence}"
            )
        )
        card = QTextBrowser()
        card.setMarkdown(card_text(pack))
        layout.addWidget(card, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


CHECKPOINT_FILTER = "*.pth *.pt *.safetensors *.ckpt"
SOURCE_FILTER = (
    f"Checkpoints and model packs ({CHECKPOINT_FILTER} {MANIFEST_FILE});;"
    f"Checkpoints ({CHECKPOINT_FILTER});;Model packs ({MANIFEST_FILE})"
)


def choose_model_source(parent: QWidget, folder: str = "") -> Path | None:
    """One file dialog for both kinds: a checkpoint file, or a pack folder chosen by its
    manifest (a dialog cannot offer files and folders at once on every platform)."""
    path, _ = QFileDialog.getOpenFileName(
        parent, "Import a checkpoint or a model pack's manifest.json", folder, SOURCE_FILTER
    )
    return Path(path) if path else None


def import_pack_folder(registry: Registry, folder: Path, parent: QWidget) -> bool:
    """Show a pack folder's card, then validate and install it."""
    try:
        pack = read_pack(folder)
    except HeirloomError as exc:
        QMessageBox.warning(parent, "Not a model pack", str(exc))
        return False
    if not (folder / CARD_FILE).exists():
        QMessageBox.warning(parent, "Not a model pack", f"{folder} has no {CARD_FILE}")
        return False
    if not CardPreview(pack, parent).exec():
        return False
    try:
        installed = registry.import_pack(folder)
    except HeirloomError as exc:
        QMessageBox.warning(parent, "Cannot import", str(exc))
        return False
    QMessageBox.information(parent, "Imported", f"{installed.name} is installed and ready.")
    return True


class AboutDialog(QDialog):
    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Heirloom")
        self.resize(860, 560)
        layout = QVBoxLayout(self)
        info = build_info()
        intro = QLabel(
            f"<h2>Heirloom {info.version}</h2>"
            f"<p>{info.variant} build, commit {info.commit}, built {info.date}</p>"
            "<p>Restore old photos, turn sketches into photos, watch diffusion denoise — "
            "offline. Models run as ONNX graphs; each one's card says where it came from, "
            "what it was trained on and under which licence.</p>"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(PackList(registry), 1)
        notices = QTextBrowser()  # every bundled package and pack with its licence
        notices.setObjectName("notices")
        notices.setMarkdown(notices_text())
        layout.addWidget(notices, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

"""Settings dialog: edits a :class:`~gui.settings.Settings` in place when accepted.

Every number's range is :data:`gui.settings.RANGES` (the engine's limits), the same
that load_settings clamps to, so nothing the dialog accepts is reset at the next start.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from gui.settings import DEVICES, RANGES, Settings


def _ints(name: str) -> tuple[int, int]:
    low, high = RANGES[name]
    return int(low), int(high)


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        form = QFormLayout(self)
        self.device = QComboBox()
        for device in DEVICES:
            self.device.addItem(
                {"auto": "Automatic (CUDA when usable)"}.get(device, device.upper()), device
            )
        self.device.setCurrentIndex(DEVICES.index(settings.device))
        self.tile = QSpinBox()
        self.tile.setRange(*_ints("tile_size"))
        self.tile.setSingleStep(64)
        self.tile.setSuffix(" px")
        self.tile.setValue(settings.tile_size)
        self.tile.setToolTip("Smaller tiles use less memory on big scans, and run a bit slower")
        self.threads = QSpinBox()
        self.threads.setRange(*_ints("threads"))
        self.threads.setSpecialValueText("All cores")
        self.threads.setValue(settings.threads)
        self.steps = QSpinBox()
        self.steps.setRange(*_ints("diffusion_steps"))
        self.steps.setValue(settings.diffusion_steps)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(*RANGES["scratch_threshold"])
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(settings.scratch_threshold)
        self.threshold.setToolTip(
            "The damage detector's cut-off: lower marks more as damage. The Restore "
            "panel shows it as Sensitivity, read the other way: 0.45 here is 55 % there"
        )
        self.live = QCheckBox("Regenerate after every sketch stroke")
        self.live.setChecked(settings.live_mode)
        self.autosave = QDoubleSpinBox()
        self.autosave.setRange(*RANGES["autosave_minutes"])
        self.autosave.setDecimals(1)
        self.autosave.setSingleStep(0.5)
        self.autosave.setSuffix(" min")
        # a value typed below the range becomes the minimum, shown, instead of silently
        # going back to the previous value when the field loses focus
        self.autosave.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        low, high = RANGES["autosave_minutes"]
        self.autosave.setToolTip(f"From {low:g} to {high:g} minutes")
        self.autosave.setValue(settings.autosave_minutes)
        for label, widget in (
            ("Device", self.device),
            ("Tile size", self.tile),
            ("Threads", self.threads),
            ("Diffusion steps", self.steps),
            ("Scratch threshold", self.threshold),
            ("Live sketch", self.live),
            ("Autosave every", self.autosave),
        ):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._defaults
        )
        form.addRow(buttons)

    def _defaults(self) -> None:
        defaults = Settings()
        self.device.setCurrentIndex(DEVICES.index(defaults.device))
        self.tile.setValue(defaults.tile_size)
        self.threads.setValue(defaults.threads)
        self.steps.setValue(defaults.diffusion_steps)
        self.threshold.setValue(defaults.scratch_threshold)
        self.live.setChecked(defaults.live_mode)
        self.autosave.setValue(defaults.autosave_minutes)

    def accept(self) -> None:
        s = self.settings
        s.device = self.device.currentData()
        s.tile_size = self.tile.value()
        s.threads = self.threads.value()
        s.diffusion_steps = self.steps.value()
        s.scratch_threshold = self.threshold.value()
        s.live_mode = self.live.isChecked()
        s.autosave_minutes = self.autosave.value()
        super().accept()

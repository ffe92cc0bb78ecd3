"""The status bar's device line: what really runs the models, and why not CUDA.

The text is :meth:`engine.runtime.DeviceReport.summary` for the wanted device, cut
short before the reason, with a "details" link that opens the whole story (providers
this onnxruntime lists, the one that works, the missing library).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from engine.runtime import DeviceReport, device_report


def details_text(report: DeviceReport, wanted: str) -> str:
    lines = [
        f"Models run on: {report.summary(wanted)}",  # type: ignore[arg-type]
        f"Device asked for in Settings: {wanted}",
        f"ONNX Runtime {report.ort_version}",
        f"Providers in this build: {', '.join(report.available) or 'none'}",
        f"CUDA usable: {'yes' if report.cuda_usable else 'no'}",
    ]
    if report.cuda_reason:
        lines.append(f"Why not CUDA: {report.cuda_reason}")
    return "\n".join(lines)


class DeviceStatus(QLabel):
    """'CPU', 'CUDA' or 'CPU (CUDA not usable) · details' in the status bar."""

    def __init__(self, wanted: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = device_report()
        self.setOpenExternalLinks(False)
        self.linkActivated.connect(lambda _link: self.show_details())
        self.set_wanted(wanted)

    def set_wanted(self, wanted: str) -> None:
        self.wanted = wanted
        summary = self.report.summary(wanted)  # type: ignore[arg-type]
        self.setToolTip(summary)
        short = summary.split(" (", 1)[0]
        if summary != short:
            self.setText(f"{short} (CUDA not usable) · <a href='details'>details</a>")
        else:
            self.setText(f"{short} · <a href='details'>details</a>")

    def show_details(self) -> None:
        box = QMessageBox(self.window())
        box.setWindowTitle("Device")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(self.report.summary(self.wanted))  # type: ignore[arg-type]
        box.setDetailedText(details_text(self.report, self.wanted))
        box.setInformativeText("Change the device in Settings; CPU always works.")
        box.open()

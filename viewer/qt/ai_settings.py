"""AI settings (model folder, provider, top-K, auto-run), persisted in the app's QSettings store.

`AiSettings` reads and writes keys under `ai/` of the same store as `viewer.qt.settings.Settings`;
`AiSettingsDialog` edits them. An empty model folder means the bundled model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from inference import Device
from viewer.resources import default_model_dir

MAX_TOP_K = 16


@dataclass(frozen=True)
class AiOptions:
    """One snapshot of the AI settings; `model_dir` None means the bundled model."""

    model_dir: Path | None = None
    device: Device = Device.AUTO
    top_k: int = 6
    auto_run: bool = True

    @property
    def effective_model_dir(self) -> Path:
        """The folder to load: the user's, or the bundled one."""
        return self.model_dir if self.model_dir is not None else default_model_dir()


class AiSettings:
    """Typed access to the `ai/` keys of a QSettings store."""

    def __init__(self, store: QtCore.QSettings) -> None:
        self.store = store

    def load(self) -> AiOptions:
        """The stored options; unreadable values fall back to the defaults."""
        folder = str(self.store.value("ai/model_dir", "") or "")
        try:
            device = Device(str(self.store.value("ai/device", Device.AUTO.value)))
        except ValueError:
            device = Device.AUTO
        try:
            top_k = min(max(int(str(self.store.value("ai/top_k", 6))), 1), MAX_TOP_K)
        except (TypeError, ValueError):
            top_k = 6
        auto = str(self.store.value("ai/auto_run", "true")).lower() not in ("false", "0")
        return AiOptions(Path(folder) if folder else None, device, top_k, auto)

    def save(self, options: AiOptions) -> None:
        """Store `options` (and write them to disk)."""
        self.store.setValue("ai/model_dir", str(options.model_dir or ""))
        self.store.setValue("ai/device", options.device.value)
        self.store.setValue("ai/top_k", int(options.top_k))
        self.store.setValue("ai/auto_run", "true" if options.auto_run else "false")
        self.store.sync()


class AiSettingsDialog(QtWidgets.QDialog):
    """Edit AI options; `options()` gives what the dialog shows."""

    def __init__(self, options: AiOptions, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("AI settings")
        self.folder = QtWidgets.QLineEdit(str(options.model_dir or ""), self)
        self.folder.setPlaceholderText(f"bundled: {default_model_dir()}")
        browse = QtWidgets.QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        bundled = QtWidgets.QPushButton("Use bundled", self)
        bundled.clicked.connect(self.folder.clear)
        row = QtWidgets.QHBoxLayout()
        for widget in (self.folder, browse, bundled):
            row.addWidget(widget)
        self.device = QtWidgets.QComboBox(self)
        for device, text in (
            (Device.AUTO, "Auto (CUDA when it works)"),
            (Device.CUDA, "CUDA"),
            (Device.CPU, "CPU"),
        ):
            self.device.addItem(text, device.value)
        self.device.setCurrentIndex(self.device.findData(options.device.value))
        self.top_k = QtWidgets.QSpinBox(self)
        self.top_k.setRange(1, MAX_TOP_K)
        self.top_k.setValue(options.top_k)
        self.auto_run = QtWidgets.QCheckBox("Analyse images when they open", self)
        self.auto_run.setChecked(options.auto_run)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Model folder", row)
        form.addRow("Provider", self.device)
        form.addRow("Crops (top-K)", self.top_k)
        form.addRow("", self.auto_run)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel,
            parent=self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "AI model folder")
        if folder:
            self.folder.setText(folder)

    def options(self) -> AiOptions:
        """The options as edited."""
        text = self.folder.text().strip()
        return AiOptions(
            Path(text) if text else None,
            Device(self.device.currentData()),
            int(self.top_k.value()),
            self.auto_run.isChecked(),
        )

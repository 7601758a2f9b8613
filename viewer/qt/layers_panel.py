"""The AI layers panel: one check box per layer kind, heatmap opacity, colormap, threshold, legend.

Binds both ways to the Qt-free `AiLayerStyle` (widgets hold no state of their own) and
disconnects from it when closed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from viewer.model.findings import AiLayerStyle, LayerKind
from viewer.model.layers import Colormap

_KIND_TEXT = {
    LayerKind.GLOBAL_HEATMAP: "Global Grad-CAM heatmap",
    LayerKind.CROP_HEATMAPS: "Per-crop Grad-CAM heatmaps",
    LayerKind.CROP_BOXES: "Crop boxes (coloured by score)",
    LayerKind.BREAST_OUTLINE: "Breast outline (AI segmentation)",
}


class HeatmapLegend(QtWidgets.QWidget):
    """The colormap from 0 to 1, transparent (checkered) below the threshold."""

    def __init__(self, style: AiLayerStyle, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.style_model = style
        self.setMinimumHeight(40)
        self.setToolTip(
            "Grad-CAM evidence, normalized per map: where the model looked, not a "
            "probability. Values below the threshold are not drawn."
        )

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt override)
        """Gradient bar with ticks 0, threshold, 1."""
        painter = QtGui.QPainter(self)
        width = max(self.width() - 16, 10)
        bar = QtCore.QRect(8, 4, width, 14)
        table = pg.colormap.get(self.style_model.colormap.value).getLookupTable(nPts=width)
        cut = round(self.style_model.threshold * (width - 1))
        rgb = np.ascontiguousarray(np.repeat(table[None, :, :3], 14, axis=0), np.uint8)
        image = QtGui.QImage(rgb.data, width, 14, 3 * width, QtGui.QImage.Format.Format_RGB888)
        painter.fillRect(bar, QtGui.QColor("#404040"))
        painter.drawImage(bar.topLeft(), image)
        painter.fillRect(
            QtCore.QRect(8, 4, cut, 14),
            QtGui.QBrush(QtGui.QColor("#808080"), QtCore.Qt.BrushStyle.Dense4Pattern),
        )
        painter.setPen(self.palette().color(QtGui.QPalette.ColorRole.WindowText))
        y = 34
        painter.drawText(8, y, "0")
        painter.drawText(8 + cut - 8, y, f"{self.style_model.threshold:.2f}")
        painter.drawText(8 + width - 8, y, "1")
        painter.end()


class LayersPanel(QtWidgets.QWidget):
    """Edits an `AiLayerStyle`; `H` (in the window) toggles the heatmap boxes here too."""

    def __init__(self, style: AiLayerStyle, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.style_model = style
        layout = QtWidgets.QVBoxLayout(self)
        self.checks: dict[LayerKind, QtWidgets.QCheckBox] = {}
        for kind in LayerKind:
            check = QtWidgets.QCheckBox(_KIND_TEXT[kind], self)
            check.setChecked(style.visible(kind))
            check.toggled.connect(lambda on, k=kind: self.style_model.set_visible(k, on))
            layout.addWidget(check)
            self.checks[kind] = check
        form = QtWidgets.QFormLayout()
        self.opacity = _slider(self, round(style.opacity * 100))
        self.opacity.valueChanged.connect(lambda v: setattr(self.style_model, "opacity", v / 100))
        self.threshold = _slider(self, round(style.threshold * 100))
        self.threshold.valueChanged.connect(
            lambda v: setattr(self.style_model, "threshold", v / 100)
        )
        self.colormap = QtWidgets.QComboBox(self)
        for cmap in Colormap:
            self.colormap.addItem(cmap.value, cmap.value)
        self.colormap.setCurrentIndex(self.colormap.findData(style.colormap.value))
        self.colormap.currentIndexChanged.connect(
            lambda _i: setattr(self.style_model, "colormap", self.colormap.currentData())
        )
        form.addRow("Heatmap opacity", self.opacity)
        form.addRow("Colormap", self.colormap)
        form.addRow("Hide below", self.threshold)
        layout.addLayout(form)
        self.legend = HeatmapLegend(style, self)
        layout.addWidget(self.legend)
        note = QtWidgets.QLabel(
            "Heatmaps show where the model found evidence (Grad-CAM, scaled 0-1 per map). "
            "Press H to show or hide all heatmaps.",
            self,
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        self._connections: list[tuple[Any, Any]] = [
            (style.visibility_changed, self._on_visibility),
            (style.opacity_changed, self._on_opacity),
            (style.threshold_changed, self._on_threshold),
            (style.colormap_changed, self._on_colormap),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)

    def _on_visibility(self, kind: str, visible: bool) -> None:
        check = self.checks[LayerKind(kind)]
        check.blockSignals(True)
        check.setChecked(visible)
        check.blockSignals(False)

    def _on_opacity(self, value: float) -> None:
        _set_quietly(self.opacity, round(value * 100))

    def _on_threshold(self, value: float) -> None:
        _set_quietly(self.threshold, round(value * 100))
        self.legend.update()

    def _on_colormap(self, value: str) -> None:
        self.colormap.blockSignals(True)
        self.colormap.setCurrentIndex(self.colormap.findData(value))
        self.colormap.blockSignals(False)
        self.legend.update()

    def disconnect_model(self) -> None:
        """Stop listening to the style (the panel is going away)."""
        for signal, slot in self._connections:
            signal.disconnect(slot, missing_ok=True)


def _slider(parent: QtWidgets.QWidget, value: int) -> QtWidgets.QSlider:
    slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, parent)
    slider.setRange(0, 100)
    slider.setValue(value)
    return slider


def _set_quietly(slider: QtWidgets.QSlider, value: int) -> None:
    slider.blockSignals(True)
    slider.setValue(value)
    slider.blockSignals(False)

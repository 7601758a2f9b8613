"""The findings panel: scores on an explained scale, operating point, and the crops as thumbnails.

Shows the findings of one image (the active view) and the breast / exam scores of every open
image. Crop thumbnails are the crop's stored values through the image's current display LUT, so
they follow the reader's window; hovering a crop lights its box, clicking zooms the view to it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from inference import ModelManifest
from viewer.model.display import ImageDisplay
from viewer.model.evidence import crop_display
from viewer.model.findings import (
    NO_EVIDENCE_TEXT,
    SCORE_SCALE_TEXT,
    AnalysisStatus,
    FindingsRegistry,
    ImageFindings,
    operating_point_text,
)
from viewer.qt.model_card import NOT_FOR_CLINICAL_USE

THUMBNAIL_PX = 108
_STAGE_TEXT = {
    "segmenting": "segmenting the breast",
    "global_model": "running the global model",
    "crops": "scoring crops",
    "heatmaps": "computing heatmaps",
    "done": "finishing",
}


def gray_icon(pixels: np.ndarray, size: int = THUMBNAIL_PX) -> QtGui.QIcon:
    """An icon of an 8-bit gray (or RGB) array, scaled smoothly to `size` px."""
    data = np.ascontiguousarray(pixels, np.uint8)
    rows, cols = data.shape[:2]
    if data.ndim == 2:
        image = QtGui.QImage(data.data, cols, rows, cols, QtGui.QImage.Format.Format_Grayscale8)
    else:
        image = QtGui.QImage(data.data, cols, rows, 3 * cols, QtGui.QImage.Format.Format_RGB888)
    scaled = image.scaled(
        size,
        size,
        QtCore.Qt.AspectRatioMode.KeepAspectRatio,
        QtCore.Qt.TransformationMode.SmoothTransformation,
    )
    return QtGui.QIcon(QtGui.QPixmap.fromImage(scaled))


class CropList(QtWidgets.QListWidget):
    """Crop thumbnails; `hovered(index | None)` as the pointer moves over them."""

    hovered = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        self.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.setMovement(QtWidgets.QListView.Movement.Static)
        self.setWrapping(True)
        self.setIconSize(QtCore.QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.setGridSize(QtCore.QSize(THUMBNAIL_PX + 12, THUMBNAIL_PX + 52))
        self.setWordWrap(True)
        self.setMouseTracking(True)
        self.itemEntered.connect(lambda item: self.hovered.emit(self.row(item)))

    def leaveEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802 (Qt override)
        """No crop is hovered once the pointer leaves the list."""
        self.hovered.emit(None)
        super().leaveEvent(event)


class FindingsPanel(QtWidgets.QWidget):
    """Findings of the bound image; `crop_clicked(index)` when the reader picks a crop."""

    crop_clicked = QtCore.Signal(int)
    model_card_requested = QtCore.Signal()

    def __init__(self, registry: FindingsRegistry, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.findings: ImageFindings | None = None
        self.display: ImageDisplay | None = None
        self.manifest: ModelManifest | None = None
        self._unbind: list[Callable[[], None]] = []
        self._build()
        registry.changed.connect(self._show_exam)

    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        banner = QtWidgets.QLabel(f"AI output · research use only · {NOT_FOR_CLINICAL_USE}", self)
        banner.setStyleSheet(
            "QLabel { background: #a01010; color: white; font-weight: bold; padding: 4px; }"
        )
        banner.setWordWrap(True)
        self.model_label = QtWidgets.QLabel("Model: loading…", self)
        self.model_label.setWordWrap(True)
        card = QtWidgets.QPushButton("Model card…", self)
        card.clicked.connect(self.model_card_requested)
        self.status_label = QtWidgets.QLabel("", self)
        self.status_label.setWordWrap(True)
        self.scores_label = QtWidgets.QLabel("", self)
        self.scores_label.setWordWrap(True)
        self.scores_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.exam_label = QtWidgets.QLabel("", self)
        self.exam_label.setWordWrap(True)
        scale = QtWidgets.QLabel(SCORE_SCALE_TEXT, self)
        scale.setWordWrap(True)
        scale.setStyleSheet("QLabel { font-size: 11px; font-style: italic; }")
        self.crops = CropList(self)
        self.crops.itemClicked.connect(lambda item: self.crop_clicked.emit(self.crops.row(item)))
        self.crops.hovered.connect(self._on_hover)
        for widget in (
            banner,
            self.model_label,
            card,
            self.status_label,
            self.scores_label,
            self.exam_label,
            scale,
        ):
            layout.addWidget(widget)
        layout.addWidget(QtWidgets.QLabel("Crops (full resolution, current window):", self))
        layout.addWidget(self.crops, 1)

    # --- binding -------------------------------------------------------------------------

    def bind(self, findings: ImageFindings | None, display: ImageDisplay | None) -> None:
        """Show `findings` of the image shown by `display` (None: nothing)."""
        for undo in self._unbind:
            undo()
        self._unbind = []
        self.findings, self.display = findings, display
        if findings is not None:
            self._follow(findings.status_changed, self._show_status)
            self._follow(findings.stage_changed, self._show_status)
            self._follow(findings.result_changed, self._show)
        if display is not None:
            self._follow(display.voi_changed, self._refresh_thumbnails)
            self._follow(display.invert_changed, self._refresh_thumbnails)
        self._show()

    def _follow(self, signal: object, slot: Callable[..., None]) -> None:
        signal.connect(slot)  # type: ignore[attr-defined]
        self._unbind.append(lambda: signal.disconnect(slot, missing_ok=True))  # type: ignore[attr-defined]

    def set_model(self, manifest: ModelManifest | None, text: str) -> None:
        """The loaded model (for operating points) and a line about it."""
        self.manifest = manifest
        self.model_label.setText(text)
        self._show()

    # --- showing -------------------------------------------------------------------------

    def _show(self, *_: object) -> None:
        findings = self.findings
        self.status_label.setText(self._status_text())
        result = findings.result if findings is not None else None
        if result is None:
            self.scores_label.setText("")
            self.crops.clear()
        else:
            self.scores_label.setText(self._scores_html())
            self._fill_crops()
        self._show_exam()

    def _show_status(self, *_: object) -> None:
        self.status_label.setText(self._status_text())

    def _status_text(self) -> str:
        findings = self.findings
        if findings is None:
            return "No image in the active view."
        status = findings.status
        if status is AnalysisStatus.RUNNING and findings.stage is not None:
            return f"Analysing: {_STAGE_TEXT.get(findings.stage.value, findings.stage.value)}…"
        if status is AnalysisStatus.FAILED:
            return f"Analysis failed: {findings.error}"
        if status is AnalysisStatus.DONE and findings.result is not None:
            extra = "; ".join(findings.result.warnings)
            return f"Analysed ({findings.result.provider})" + (f". {extra}" if extra else "")
        return {
            AnalysisStatus.NOT_STARTED: "Not analysed (press A).",
            AnalysisStatus.WAITING: "Waiting to be analysed…",
            AnalysisStatus.CANCELLED: "Analysis cancelled (press A to run it).",
        }.get(status, status.value)

    def _scores_html(self) -> str:
        assert self.findings is not None and self.findings.result is not None
        result = self.findings.result
        side = {"L": "left", "R": "right"}.get(result.laterality.upper(), "unknown side")
        lines = [
            f"<b>{side} {result.view or ''}</b>",
            f"Image score (fused): <b>{result.fused_score:.3f}</b>",
            f"&nbsp;&nbsp;global model {result.image_score:.3f} · best crop "
            f"{result.crop_score:.3f}",
        ]
        if self.manifest is not None:
            lines.append(operating_point_text(result.fused_score, self.manifest.operating_points))
        if self.findings.no_positive_evidence:
            lines.append(f"<i>Global heatmap: {NO_EVIDENCE_TEXT}.</i>")
        return "<br>".join(lines)

    def _show_exam(self, *_: object) -> None:
        scores = self.registry.exam_scores()
        if scores is None:
            self.exam_label.setText("")
            return
        names = {"L": "Left breast", "R": "Right breast", "": "Unknown side"}
        parts = [f"{names.get(side, side)}: {score:.3f}" for side, score in scores.breasts.items()]
        text = " · ".join(parts) + f"\nExam: {scores.exam:.3f}"
        if self.manifest is not None:
            text += " — " + operating_point_text(scores.exam, self.manifest.operating_points)
        self.exam_label.setText(text)

    def _fill_crops(self) -> None:
        assert self.findings is not None and self.findings.result is not None
        self.crops.clear()
        for crop in self.findings.result.crops:
            text = f"#{crop.rank} · score {crop.score:.3f}"
            if crop.heatmap.all_zero:
                text += f"\ncrop map: {NO_EVIDENCE_TEXT}"
            item = QtWidgets.QListWidgetItem(text)
            item.setToolTip(
                f"box rows {crop.box[0]}-{crop.box[2]}, cols {crop.box[1]}-"
                f"{crop.box[3]}; click to zoom"
            )
            self.crops.addItem(item)
        self._refresh_thumbnails()

    def _refresh_thumbnails(self, *_: object) -> None:
        findings, display = self.findings, self.display
        if findings is None or findings.result is None or display is None:
            return
        for row, crop in enumerate(findings.result.crops):
            item = self.crops.item(row)
            if item is not None:
                item.setIcon(gray_icon(crop_display(display, crop.box)))

    def _on_hover(self, index: object) -> None:
        if self.findings is not None and self.findings.result is not None:
            self.findings.hovered_crop = index if isinstance(index, int) else None

    def crop_texts(self) -> list[str]:
        """The crop list's texts (tests, self-test)."""
        return [self.crops.item(i).text() for i in range(self.crops.count())]

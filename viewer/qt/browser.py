"""Study / series / image browser dock: a tree with thumbnails; activating an image opens it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from viewer.dicomio import ImageHeader
from viewer.model import ViewerState
from viewer.model.overlay import PRIVACY_PLACEHOLDER, view_label

PATH_ROLE = QtCore.Qt.ItemDataRole.UserRole


class StudyBrowser(QtWidgets.QWidget):
    """Patient > study > series > image; `image_activated(Path)` on double-click or Enter."""

    image_activated = QtCore.Signal(object)

    def __init__(self, state: ViewerState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tree = QtWidgets.QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QtCore.QSize(96, 96))
        self.tree.itemActivated.connect(self._on_activated)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self._headers: dict[Path, ImageHeader] = {}
        self._patients: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self._children: dict[tuple[str, ...], QtWidgets.QTreeWidgetItem] = {}
        self._images: dict[Path, QtWidgets.QTreeWidgetItem] = {}
        state.privacy_changed.connect(self._relabel_patients)

    def add_headers(self, headers: Sequence[ImageHeader]) -> None:
        """Add images (already listed ones are skipped), grouped by patient, study, series."""
        for header in headers:
            path = Path(header.path)
            if path in self._images:
                continue
            self._headers[path] = header
            series = self._series_item(header)
            item = QtWidgets.QTreeWidgetItem(series, [_image_label(header)])
            item.setData(0, PATH_ROLE, str(path))
            item.setToolTip(0, str(path))
            self._images[path] = item
        self.tree.expandAll()

    def set_thumbnail(self, path: Path, pixels: np.ndarray) -> None:
        """Show `pixels` (uint8 gray or RGB) as the icon of the image at `path`."""
        item = self._images.get(Path(path))
        if item is None:
            return
        item.setIcon(0, QtGui.QIcon(QtGui.QPixmap.fromImage(to_qimage(pixels))))

    def image_paths(self) -> list[Path]:
        """Paths of the listed images, in tree order."""
        return list(self._images)

    def _series_item(self, header: ImageHeader) -> QtWidgets.QTreeWidgetItem:
        patient_key = f"{header.patient_id}|{header.patient_name}"
        patient = self._patients.get(patient_key)
        if patient is None:
            patient = QtWidgets.QTreeWidgetItem(self.tree, [""])
            patient.setData(0, PATH_ROLE, None)
            self._patients[patient_key] = patient
            self._set_patient_label(patient, header)
        study_key = (patient_key, header.study_instance_uid)
        study = self._children.get(study_key)
        if study is None:
            text = " ".join(p for p in (header.study_date, header.study_description) if p)
            study = QtWidgets.QTreeWidgetItem(patient, [text or "Study"])
            self._children[study_key] = study
        series_key = (*study_key, header.series_instance_uid)
        series = self._children.get(series_key)
        if series is None:
            text = f"Series {header.series_number or '-'} {header.modality}"
            text += f" {header.series_description}" if header.series_description else ""
            series = QtWidgets.QTreeWidgetItem(study, [text])
            self._children[series_key] = series
        return series

    def _set_patient_label(self, item: QtWidgets.QTreeWidgetItem, header: ImageHeader) -> None:
        if self.state.privacy:
            item.setText(0, PRIVACY_PLACEHOLDER)
        else:
            name = str(header.patient_name or "").replace("^", " ").strip() or "(no name)"
            item.setText(0, f"{name}  ({header.patient_id or '-'})")
        item.setData(0, QtCore.Qt.ItemDataRole.UserRole + 1, header.path)

    def _relabel_patients(self, *_: object) -> None:
        for key, item in self._patients.items():
            header = next(h for h in self._headers.values() if _patient_key(h) == key)
            self._set_patient_label(item, header)

    def _on_activated(self, item: QtWidgets.QTreeWidgetItem, _column: int) -> None:
        path = item.data(0, PATH_ROLE)
        if path:
            self.image_activated.emit(Path(path))


def _patient_key(header: ImageHeader) -> str:
    return f"{header.patient_id}|{header.patient_name}"


def _image_label(header: ImageHeader) -> str:
    view = view_label(header)
    return f"{view or header.modality}  #{header.instance_number or '-'}"


def to_qimage(pixels: np.ndarray) -> QtGui.QImage:
    """A deep-copied QImage of uint8 gray (rows, cols) or RGB (rows, cols, 3) pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    rows, cols = pixels.shape[:2]
    if pixels.ndim == 2:
        image = QtGui.QImage(pixels.data, cols, rows, cols, QtGui.QImage.Format.Format_Grayscale8)
    else:
        image = QtGui.QImage(pixels.data, cols, rows, cols * 3, QtGui.QImage.Format.Format_RGB888)
    return image.copy()

"""Searchable DICOM tag tree dock: every element of the header (sequences nested)."""

from __future__ import annotations

from typing import Any

from PySide6 import QtWidgets

from viewer.model import ViewerState

# Elements hidden while privacy is on (patient identity), by keyword.
IDENTITY_KEYWORDS = frozenset(
    {
        "PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "OtherPatientNames",
        "PatientAddress", "PatientTelephoneNumbers", "AccessionNumber", "PatientMotherBirthName",
        "IssuerOfPatientID", "PatientBirthTime", "OtherPatientIDsSequence",
        "ReferringPhysicianName",
    }
)  # fmt: skip
HIDDEN = "(hidden)"
MAX_VALUE_CHARS = 200


class TagTree(QtWidgets.QWidget):
    """A filter box over a tree of (tag, keyword, VR, value); `show_dataset` fills it."""

    def __init__(self, state: ViewerState, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.search = QtWidgets.QLineEdit(self)
        self.search.setPlaceholderText("Filter tags (keyword, tag or value)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.tree = QtWidgets.QTreeWidget(self)
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        self.tree.setUniformRowHeights(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._dataset: Any = None
        state.privacy_changed.connect(lambda _privacy: self.show_dataset(self._dataset))

    def show_dataset(self, dataset: Any) -> None:
        """Show a pydicom Dataset (None clears); keeps the current filter."""
        self._dataset = dataset
        self.tree.clear()
        if dataset is not None:
            if getattr(dataset, "file_meta", None) is not None:
                self._add(dataset.file_meta, self.tree.invisibleRootItem())
            self._add(dataset, self.tree.invisibleRootItem())
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        self.apply_filter(self.search.text())

    def _add(self, dataset: Any, parent: QtWidgets.QTreeWidgetItem) -> None:
        for element in dataset:
            keyword = element.keyword or ""
            if element.VR == "SQ":
                item = QtWidgets.QTreeWidgetItem(
                    parent, [_tag(element.tag), keyword, "SQ", f"{len(element.value)} item(s)"]
                )
                for index, sequence_item in enumerate(element.value):
                    child = QtWidgets.QTreeWidgetItem(item, ["", f"Item {index + 1}", "", ""])
                    self._add(sequence_item, child)
                continue
            QtWidgets.QTreeWidgetItem(
                parent, [_tag(element.tag), keyword, str(element.VR), self._value(element)]
            )

    def _value(self, element: Any) -> str:
        if self.state.privacy and element.keyword in IDENTITY_KEYWORDS:
            return HIDDEN
        if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
            return f"<{len(element.value or b'')} bytes>"
        text = str(element.value)
        return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"

    def apply_filter(self, text: str) -> None:
        """Show rows whose tag, keyword or value contains `text` (case-insensitive), and parents."""
        needle = text.strip().lower()
        root = self.tree.invisibleRootItem()
        for index in range(root.childCount()):
            child = root.child(index)
            if child is not None:
                _filter(child, needle)
        if needle:
            self.tree.expandAll()

    def visible_values(self) -> list[str]:
        """Every visible row as 'keyword value' (for tests)."""
        rows = []
        iterator = QtWidgets.QTreeWidgetItemIterator(self.tree)
        while iterator.value():
            item = iterator.value()
            if not item.isHidden():
                rows.append(f"{item.text(1)} {item.text(3)}")
            iterator += 1
        return rows


def _filter(item: QtWidgets.QTreeWidgetItem, needle: str) -> bool:
    """Hide `item` unless it or a descendant matches; returns whether it is shown."""
    own = not needle or any(needle in item.text(col).lower() for col in range(4))
    child_match = False
    for index in range(item.childCount()):
        child = item.child(index)
        child_match = (child is not None and _filter(child, needle)) or child_match
    shown = own or child_match
    item.setHidden(not shown)
    return shown


def _tag(tag: Any) -> str:
    return f"({tag.group:04X},{tag.element:04X})"

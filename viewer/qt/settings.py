"""Persistent settings (QSettings): recent files, last window preset per modality, layout."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

ORGANIZATION = "MammoLens"
APPLICATION = "MammoLens"
MAX_RECENT = 10


class Settings:
    """Typed access to a QSettings store; pass one (e.g. an INI file) to isolate tests."""

    def __init__(self, store: QtCore.QSettings | None = None) -> None:
        self.store = store if store is not None else QtCore.QSettings(ORGANIZATION, APPLICATION)

    def recent_files(self) -> list[Path]:
        """Most recent first, at most MAX_RECENT."""
        value = self.store.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a bare string for one-element lists
            value = [value]
        if not isinstance(value, list):
            return []
        return [Path(str(v)) for v in value][:MAX_RECENT]

    def add_recent(self, path: Path) -> None:
        """Put `path` first in the recent list."""
        paths = [p for p in self.recent_files() if p != Path(path)]
        self.store.setValue("recent_files", [str(p) for p in [Path(path), *paths][:MAX_RECENT]])

    def last_preset(self, modality: str) -> str | None:
        """Name of the window preset last chosen for images of `modality`."""
        value = self.store.value(f"presets/{modality or 'unknown'}")
        return str(value) if value else None

    def set_last_preset(self, modality: str, name: str) -> None:
        """Remember the chosen preset name for `modality`."""
        self.store.setValue(f"presets/{modality or 'unknown'}", name)

    def window_state(self) -> tuple[QtCore.QByteArray | None, QtCore.QByteArray | None]:
        """(geometry, dock state) saved by `save_window_state`, or Nones."""
        geometry = self.store.value("window/geometry")
        state = self.store.value("window/state")
        return (
            geometry if isinstance(geometry, QtCore.QByteArray) else None,
            state if isinstance(state, QtCore.QByteArray) else None,
        )

    def save_window_state(self, geometry: QtCore.QByteArray, state: QtCore.QByteArray) -> None:
        """Store the main window's geometry and `saveState()` (docks, toolbars)."""
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def sync(self) -> None:
        """Write to disk now."""
        self.store.sync()

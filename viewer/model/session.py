"""Viewer-wide state that every canvas and panel listens to (privacy), Qt-free."""

from __future__ import annotations

from psygnal import Signal


class ViewerState:
    """State shared by all views: privacy hides patient identity everywhere it is shown."""

    privacy_changed = Signal(bool)

    def __init__(self, privacy: bool = False) -> None:
        self._privacy = bool(privacy)

    @property
    def privacy(self) -> bool:
        """True while patient identity must not be shown."""
        return self._privacy

    @privacy.setter
    def privacy(self, value: bool) -> None:
        if bool(value) != self._privacy:
            self._privacy = bool(value)
            self.privacy_changed.emit(self._privacy)

"""The one place errors and notices reach the user: the status bar plus a non-blocking toast.

Every worker's `errored` signal is connected here. Messages are one line; typed dicomio errors
already name file, tag, value and what was expected. Tracebacks of unexpected errors go to the
log (file paths only, never patient data), not to the screen.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from PySide6 import QtCore, QtWidgets

log = logging.getLogger(__name__)

TOAST_MS = 8000


class Level(StrEnum):
    """How serious a notification is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_TOAST_STYLE = {
    Level.INFO: "background: rgba(40, 40, 40, 230); color: white;",
    Level.WARNING: "background: rgba(200, 130, 0, 235); color: black;",
    Level.ERROR: "background: rgba(170, 20, 20, 235); color: white;",
}


class Notifier(QtCore.QObject):
    """Shows notifications in `status_bar` and as a toast over `host`; keeps a history."""

    notified = QtCore.Signal(str, str)  # level, message

    def __init__(self, status_bar: QtWidgets.QStatusBar, host: QtWidgets.QWidget) -> None:
        super().__init__(host)
        self.status_bar = status_bar
        self.history: list[tuple[Level, str]] = []
        self.toast = QtWidgets.QLabel(host)
        self.toast.setWordWrap(True)
        self.toast.setMaximumWidth(520)
        self.toast.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.toast.hide()
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.toast.hide)

    def set_host(self, host: QtWidgets.QWidget) -> None:
        """Show the toast over `host` (the central widget, once it exists)."""
        self.toast.setParent(host)

    def notify(self, level: Level, message: str) -> None:
        """Show `message` in the status bar and a toast that hides itself."""
        self.history.append((level, message))
        self.status_bar.showMessage(message, TOAST_MS)
        self.toast.setStyleSheet(f"QLabel {{ {_TOAST_STYLE[level]} padding: 8px; }}")
        self.toast.setText(message)
        self.toast.adjustSize()
        host = self.toast.parentWidget()
        assert host is not None  # the toast is created as a child of the window's grid
        self.toast.move(
            max(host.width() - self.toast.width() - 16, 0),
            max(host.height() - self.toast.height() - 16, 0),
        )
        self.toast.show()
        self.toast.raise_()
        self._timer.start(TOAST_MS)
        self.notified.emit(level.value, message)

    def error(self, exc: BaseException) -> None:
        """A worker's error: typed input errors as they are, anything else with its type."""
        from viewer.dicomio import DicomInputError

        if isinstance(exc, DicomInputError):
            message = str(exc)
        else:
            log.error("unexpected error in a worker", exc_info=exc)
            message = f"Unexpected {type(exc).__name__}: {exc}"
        self.notify(Level.ERROR, message)

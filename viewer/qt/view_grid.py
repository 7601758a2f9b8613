"""The grid of canvases a hanging protocol asks for; one canvas is active (keys act on it)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from viewer.model import SINGLE_VIEW, HangingProtocol, ViewerState
from viewer.qt.canvas import ImageCanvas
from viewer.qt.workers import Jobs

_ACTIVE_STYLE = "QGraphicsView { border: 2px solid #3d8ee6; }"
_IDLE_STYLE = "QGraphicsView { border: 2px solid black; }"


class ViewGrid(QtWidgets.QWidget):
    """Canvases laid out as `protocol` says; `active_changed(canvas)` when another is clicked."""

    active_changed = QtCore.Signal(object)
    hovered = QtCore.Signal(str)

    def __init__(
        self, state: ViewerState, parent: QtWidgets.QWidget | None = None, jobs: Jobs | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self.protocol = SINGLE_VIEW
        self.canvases: list[ImageCanvas] = []
        self.active: ImageCanvas | None = None
        self._layout = QtWidgets.QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        palette = self.palette()
        palette.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("black"))
        self.setPalette(palette)
        self.setAutoFillBackground(True)  # black between the cells, not the window's gray
        self.set_protocol(SINGLE_VIEW)

    def set_protocol(self, protocol: HangingProtocol) -> None:
        """Lay out one canvas per cell; existing canvases are reused in order (they keep images)."""
        self.protocol = protocol
        needed = len(protocol.cells)
        while len(self.canvases) < needed:
            canvas = ImageCanvas(self.state, self, self.jobs)
            canvas.activated.connect(self.set_active)
            canvas.hovered.connect(self.hovered)
            canvas.setStyleSheet(_IDLE_STYLE)
            self.canvases.append(canvas)
        for canvas in self.canvases[needed:]:
            canvas.clear()
            self._layout.removeWidget(canvas)
            canvas.deleteLater()
        self.canvases = self.canvases[:needed]
        for canvas, cell in zip(self.canvases, protocol.cells, strict=True):
            self._layout.addWidget(canvas, cell.row, cell.col)
            canvas.show()
        # Equal cells whatever the images: stretch the protocol's rows and columns only.
        for index in range(max(self._layout.rowCount(), protocol.rows)):
            self._layout.setRowStretch(index, 1 if index < protocol.rows else 0)
        for index in range(max(self._layout.columnCount(), protocol.cols)):
            self._layout.setColumnStretch(index, 1 if index < protocol.cols else 0)
        if self.active not in self.canvases:
            self.active = None
            self.set_active(self.canvases[0])
        else:
            self._style_active()

    def set_active(self, canvas: ImageCanvas) -> None:
        """Make `canvas` the one keys and panels act on."""
        if canvas is self.active:
            return
        self.active = canvas
        self._style_active()
        self.active_changed.emit(canvas)

    def _style_active(self) -> None:
        """A blue frame around the active canvas when there are several."""
        for canvas in self.canvases:
            several = len(self.canvases) > 1
            canvas.setStyleSheet(
                _ACTIVE_STYLE if several and canvas is self.active else _IDLE_STYLE
            )

"""Mouse events with explicit buttons (QTest's move events carry no button state)."""

from PySide6 import QtCore, QtGui, QtWidgets

Qt = QtCore.Qt


def mouse(widget: QtWidgets.QWidget, kind: QtCore.QEvent.Type, x: float, y: float,
          button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:  # fmt: skip
    point = QtCore.QPointF(x, y)
    event = QtGui.QMouseEvent(
        kind, point, widget.mapToGlobal(point), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(widget: QtWidgets.QWidget, start: tuple[float, float], end: tuple[float, float],
         button: Qt.MouseButton, steps: int = 5) -> None:  # fmt: skip
    Type = QtCore.QEvent.Type
    mouse(widget, Type.MouseButtonPress, *start, button, button)
    for step in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * step / steps
        y = start[1] + (end[1] - start[1]) * step / steps
        mouse(widget, Type.MouseMove, x, y, Qt.MouseButton.NoButton, button)
    mouse(widget, Type.MouseButtonRelease, *end, button, Qt.MouseButton.NoButton)


def wheel(widget: QtWidgets.QWidget, x: float, y: float, notches: float) -> None:
    point = QtCore.QPointF(x, y)
    event = QtGui.QWheelEvent(
        point, widget.mapToGlobal(point), QtCore.QPoint(0, 0),
        QtCore.QPoint(0, int(120 * notches)), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QtWidgets.QApplication.sendEvent(widget, event)

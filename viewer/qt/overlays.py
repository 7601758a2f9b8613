"""Corner text and the warning banner over a canvas; they only display `viewer.model.overlay`."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

from viewer.model import Corner, ImageDisplay, overlay_text, warnings_for

_LABEL_STYLE = (
    "QLabel { color: #f0f0f0; background: rgba(0, 0, 0, 120); padding: 3px 6px; font-size: 13px; }"
)
_BANNER_STYLE = (
    "QLabel { color: black; background: rgba(255, 170, 0, 225); padding: 4px 10px;"
    " font-size: 13px; font-weight: bold; }"
)
_ALIGN = {
    Corner.TOP_LEFT: QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop,
    Corner.TOP_RIGHT: QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignTop,
    Corner.BOTTOM_LEFT: QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignBottom,
    Corner.BOTTOM_RIGHT: QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignBottom,
}
_MIRROR = {
    Corner.TOP_LEFT: Corner.TOP_RIGHT,
    Corner.TOP_RIGHT: Corner.TOP_LEFT,
    Corner.BOTTOM_LEFT: Corner.BOTTOM_RIGHT,
    Corner.BOTTOM_RIGHT: Corner.BOTTOM_LEFT,
}


class OverlayFrame(QtWidgets.QWidget):
    """Transparent to the mouse; four corner labels and a banner, laid out over the canvas.

    `mirrored` swaps left and right corners, so the view label sits on the side away from the
    chest wall when a hanging protocol puts the chest wall on the left.
    """

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.mirrored = False
        self.corners: dict[Corner, QtWidgets.QLabel] = {}
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        positions = {
            Corner.TOP_LEFT: (0, 0),
            Corner.TOP_RIGHT: (0, 2),
            Corner.BOTTOM_LEFT: (2, 0),
            Corner.BOTTOM_RIGHT: (2, 2),
        }
        for corner, (row, col) in positions.items():
            label = QtWidgets.QLabel(self)
            label.setStyleSheet(_LABEL_STYLE)
            label.setTextFormat(QtCore.Qt.TextFormat.RichText)
            label.hide()
            layout.addWidget(label, row, col, _ALIGN[corner])
            self.corners[corner] = label
        self.banner = QtWidgets.QLabel(self)
        self.banner.setStyleSheet(_BANNER_STYLE)
        self.banner.hide()
        layout.addWidget(self.banner, 0, 1, QtCore.Qt.AlignmentFlag.AlignHCenter)
        layout.setRowStretch(1, 1)
        layout.setColumnStretch(1, 1)

    def clear(self) -> None:
        """No image: no text."""
        for label in self.corners.values():
            label.clear()
            label.hide()
        self.banner.clear()
        self.banner.hide()

    def show_state(self, display: ImageDisplay, zoom: float, privacy: bool) -> None:
        """Text for `display` at `zoom`; patient identity left out when `privacy` is on."""
        header = display.image.header
        window = None if display.is_color else display.window
        lines = overlay_text(
            header,
            privacy=privacy,
            window=window,
            zoom=zoom,
            frame=display.frame,
            frames=display.number_of_frames,
            invert=display.invert,
        )
        for corner, corner_lines in lines.items():
            target = _MIRROR[corner] if self.mirrored else corner
            label = self.corners[target]
            text = _rich(corner_lines, big_first=corner == Corner.TOP_LEFT)
            if label.text() != text:
                label.setText(text)
            label.setAlignment(_ALIGN[target])
            label.setVisible(bool(corner_lines))
        warnings = warnings_for(header)
        self.banner.setText("  |  ".join(warnings))
        self.banner.setVisible(bool(warnings))

    def texts(self) -> list[str]:
        """Plain text of every visible label (for tests and accessibility)."""
        labels = [*self.corners.values(), self.banner]
        return [label.text() for label in labels if label.isVisible() or label.text()]


def _rich(lines: list[str], big_first: bool) -> str:
    escaped = [html.escape(line) for line in lines if line]
    if big_first and escaped:
        escaped[0] = f'<span style="font-size: 22px; font-weight: bold;">{escaped[0]}</span>'
    return "<br>".join(escaped)

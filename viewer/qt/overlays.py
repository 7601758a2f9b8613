"""Corner text and the warning banner over a canvas; they only display `viewer.model.overlay`.

The corner text is painted by the canvas in `drawForeground` (plain QPainter text with a dark
shadow, no box over the breast): label widgets with style sheets cost more to lay out and
paint than a whole W/L frame.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from viewer.model import Corner, ImageDisplay, Side, overlay_text, warnings_for

_BANNER_STYLE = (
    "QLabel { color: black; background: rgba(255, 170, 0, 225); padding: 4px 10px;"
    " font-size: 13px; font-weight: bold; }"
)
_MARGIN, _PAD = 6, 4
_TEXT = QtGui.QColor(235, 235, 235)
_SHADOW = QtGui.QColor(0, 0, 0)
MAX_LINE_CHARS = 40  # longer lines (study descriptions) are elided: text must not cover tissue


class Overlay:
    """The lines shown in each corner of one canvas, and its warning banner.

    With `outer_side` set (a hanging protocol put the chest wall on the other side), all text
    goes to that side's corners, top and bottom, so none of it covers the breast at the chest
    wall; otherwise the four corners are used.
    """

    def __init__(self, canvas: QtWidgets.QGraphicsView) -> None:
        self.canvas = canvas
        self.outer_side: Side | None = None
        self.lines: dict[Corner, list[str]] = {}
        self.font = QtGui.QFont(canvas.font())
        self.font.setPixelSize(14)
        self.big_font = QtGui.QFont(self.font)
        self.big_font.setPixelSize(24)
        self.big_font.setBold(True)
        self.banner = QtWidgets.QLabel(canvas)
        self.banner.setStyleSheet(_BANNER_STYLE)
        self.banner.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.banner.hide()

    def clear(self) -> None:
        """No image: no text."""
        self.lines = {}
        self.banner.clear()
        self.banner.hide()
        self.canvas.viewport().update()

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
        if lines != self.lines:
            self.lines = lines
            self.canvas.viewport().update()
        warnings = "  |  ".join(warnings_for(header))
        if warnings != self.banner.text():
            self.banner.setText(warnings)
            self.banner.setVisible(bool(warnings))
            self.place_banner()

    def place_banner(self) -> None:
        """Centre the banner at the top of the canvas."""
        self.banner.adjustSize()
        x = max((self.canvas.width() - self.banner.width()) // 2, 0)
        self.banner.move(x, _MARGIN)
        self.banner.raise_()

    def texts(self) -> list[str]:
        """Every line shown, banner included (for tests and accessibility)."""
        shown = [line for lines in self.lines.values() for line in lines]
        return [*shown, self.banner.text()] if self.banner.isVisible() else shown

    def paint(self, painter: QtGui.QPainter, width: int, height: int) -> None:
        """Draw the four corners' text on dark boxes into a `width` x `height` viewport."""
        for corner, lines, big_first in self._blocks():
            if lines:
                self._paint_block(painter, lines, corner, width, height, big_first)

    def _blocks(self) -> list[tuple[Corner, list[str], bool]]:
        lines = {
            corner: [_elide(line) for line in text if line] for corner, text in self.lines.items()
        }
        if self.outer_side is None:
            return [(corner, text, corner == Corner.TOP_LEFT) for corner, text in lines.items()]
        top, bottom = Corner.TOP_LEFT, Corner.BOTTOM_LEFT
        if self.outer_side == Side.RIGHT:
            top, bottom = Corner.TOP_RIGHT, Corner.BOTTOM_RIGHT
        top_lines = lines.get(Corner.TOP_LEFT, []) + lines.get(Corner.TOP_RIGHT, [])
        bottom_lines = lines.get(Corner.BOTTOM_LEFT, []) + lines.get(Corner.BOTTOM_RIGHT, [])
        big = bool(lines.get(Corner.TOP_LEFT))
        return [(top, top_lines, big), (bottom, bottom_lines, False)]

    def _paint_block(self, painter: QtGui.QPainter, lines: list[str], corner: Corner,
                     width: int, height: int, big_first: bool) -> None:  # fmt: skip
        fonts = [self.big_font if big_first and i == 0 else self.font for i in range(len(lines))]
        metrics = [QtGui.QFontMetrics(font) for font in fonts]
        block_w = max(m.horizontalAdvance(line) for m, line in zip(metrics, lines, strict=True))
        block_h = sum(m.height() for m in metrics)
        right = corner in (Corner.TOP_RIGHT, Corner.BOTTOM_RIGHT)
        bottom = corner in (Corner.BOTTOM_LEFT, Corner.BOTTOM_RIGHT)
        x = width - _MARGIN - block_w - 2 * _PAD if right else _MARGIN
        y = height - _MARGIN - block_h - 2 * _PAD if bottom else _MARGIN
        top = y + _PAD
        for font, metric, line in zip(fonts, metrics, lines, strict=True):
            painter.setFont(font)
            left = x + _PAD + (block_w - metric.horizontalAdvance(line) if right else 0)
            baseline = QtCore.QPointF(left, top + metric.ascent())
            painter.setPen(_SHADOW)  # legible on bright tissue and on black background alike
            painter.drawText(baseline + QtCore.QPointF(1.0, 1.0), line)
            painter.setPen(_TEXT)
            painter.drawText(baseline, line)
            top += metric.height()


def _elide(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"

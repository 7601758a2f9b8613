"""One pyqtgraph item per layer, picked from a table by layer type (quantiphyse style).

Each item has a cheap `update()` (visibility, opacity, colormap, threshold, highlight) and an
expensive `redraw()` (new data or geometry). Items are children of the canvas root, so they are
positioned in image pixels like the image itself.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from viewer.model import BoxesLayer, HeatmapLayer, Layer, LayerList, OutlineLayer


class LayerItem(Protocol):
    """What the canvas needs of a layer's item."""

    def update(self) -> None: ...  # cheap: visibility, opacity, colormap, threshold

    def redraw(self) -> None: ...  # expensive: new data

    def remove(self) -> None: ...


class HeatmapItem:
    """A heatmap as an RGBA image stretched over its box; transparent below the threshold."""

    def __init__(self, layer: HeatmapLayer, root: QtWidgets.QGraphicsItem) -> None:
        self.layer = layer
        self.item = pg.ImageItem()
        self.item.setParentItem(root)
        self.item.setZValue(10)
        self.redraw()
        for signal in (layer.visible_changed, layer.opacity_changed):
            signal.connect(self.update)
        for signal in (layer.colormap_changed, layer.threshold_changed, layer.data_changed):
            signal.connect(self.redraw)

    def update(self, *_: object) -> None:
        """Visibility and opacity only."""
        self.item.setVisible(self.layer.visible)
        self.item.setOpacity(self.layer.opacity)

    def redraw(self, *_: object) -> None:
        """Colormap the values, cut below threshold, place over the box."""
        table = pg.colormap.get(self.layer.colormap.value).getLookupTable(nPts=256, alpha=True)
        index = np.clip(np.rint(self.layer.values * 255), 0, 255).astype(np.intp)
        rgba = table[index]
        rgba[self.layer.values < self.layer.threshold, 3] = 0
        self.item.setImage(rgba, autoLevels=False, levels=None)
        row0, col0, row1, col1 = self.layer.box
        self.item.setRect(QtCore.QRectF(col0, row0, col1 - col0, row1 - row0))
        self.update()

    def remove(self) -> None:
        """Take the item out of the scene."""
        _detach(self.item)


# Box colours span the upper part of viridis: its dark violet low end vanishes on a black
# mammogram background, and a low-score box must stay visible.
BOX_COLOR_FLOOR = 0.3


def box_color(score: float) -> QtGui.QColor:
    """The pen colour of a box of `score` in [0, 1]: viridis from BOX_COLOR_FLOOR up to yellow."""
    position = BOX_COLOR_FLOOR + (1.0 - BOX_COLOR_FLOOR) * min(max(score, 0.0), 1.0)
    color: QtGui.QColor = pg.colormap.get("viridis").map(position, mode="qcolor")
    return color


# A box's label (the crop's rank) is drawn in screen pixels on a dark plate, at the first
# inside corner of its box that no earlier label (lower rank) covers: crops overlap by up to
# half their size, so labels all put at the top-left corner ran into each other at fit zoom.
LABEL_PAD_PX = 2.0
LABEL_PLATE = QtGui.QColor(0, 0, 0, 170)


def place_labels(
    boxes: list[QtCore.QRectF],
    sizes: list[QtCore.QSizeF],
    bounds: QtCore.QRectF | None = None,
) -> list[QtCore.QRectF]:
    """Screen rectangles for the labels of `boxes` (screen rectangles, most important first).

    Each label goes to the first of eight places, just outside its box at a corner (above-left,
    above-right, below-left, below-right) and then inside it at a corner, that overlaps no label
    placed before it, lies inside `bounds` (the viewport) and covers no box's centre (the middle
    half, where a crop's saliency peak lies); when none is free, to the place that covers the
    fewest of those pixels (labels and off-screen first, centres second)."""
    centres = []
    for box in boxes:
        dx, dy = box.width() / 4, box.height() / 4
        centres.append(box.adjusted(dx, dy, -dx, -dy))
    placed: list[QtCore.QRectF] = []

    def area(rect: QtCore.QRectF, others: list[QtCore.QRectF]) -> float:
        overlaps = (rect.intersected(other) for other in others)
        return sum(o.width() * o.height() for o in overlaps if not o.isEmpty())

    def cost(rect: QtCore.QRectF) -> tuple[float, float]:
        offscreen = 0.0
        if bounds is not None:
            offscreen = rect.width() * rect.height() - area(rect, [bounds])
        return area(rect, placed) + offscreen, area(rect, centres)

    for box, size in zip(boxes, sizes, strict=True):
        w, h = size.width(), size.height()
        left, right, top, bottom = box.left(), box.right() - w, box.top(), box.bottom()
        places = [
            QtCore.QRectF(left, top - h, w, h),
            QtCore.QRectF(right, top - h, w, h),
            QtCore.QRectF(left, bottom, w, h),
            QtCore.QRectF(right, bottom, w, h),
            QtCore.QRectF(left, top, w, h),
            QtCore.QRectF(right, top, w, h),
            QtCore.QRectF(left, bottom - h, w, h),
            QtCore.QRectF(right, bottom - h, w, h),
        ]
        placed.append(min(places, key=cost))  # min keeps the first of equals
    return placed


class BoxLabelsItem(QtWidgets.QGraphicsItem):
    """The labels of a layer's boxes, placed at paint time in screen pixels (`place_labels`),
    so they stay readable and apart at every zoom."""

    def __init__(self, parent: QtWidgets.QGraphicsItem) -> None:
        super().__init__(parent)
        self.setZValue(21)
        self.labels: list[tuple[QtCore.QRectF, str]] = []  # box in image pixels, text
        self.placed: list[QtCore.QRectF] = []  # screen rectangles of the last paint

    def set_labels(self, labels: list[tuple[QtCore.QRectF, str]]) -> None:
        """New boxes and texts (most important first)."""
        self.prepareGeometryChange()
        self.labels = labels
        self.placed = []
        self.update()

    def texts(self) -> list[str]:
        """The label texts, in placement order."""
        return [text for _, text in self.labels]

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt override)
        """The boxes, grown by two boxes on each side: labels sit outside their box and may be
        larger than a box zoomed out."""
        bounds = QtCore.QRectF()
        for box, _ in self.labels:
            w, h = 2 * box.width(), 2 * box.height()
            bounds = bounds.united(box.adjusted(-w, -h, w, h))
        return bounds

    def paint(
        self,
        painter: QtGui.QPainter,
        option: QtWidgets.QStyleOptionGraphicsItem,
        widget: QtWidgets.QWidget | None = None,
    ) -> None:
        """Map the boxes to the screen, place the labels, draw them untransformed."""
        transform = painter.worldTransform()
        metrics = QtGui.QFontMetricsF(painter.font())
        pad = 2 * LABEL_PAD_PX
        sizes = [
            QtCore.QSizeF(metrics.horizontalAdvance(text) + pad, metrics.height() + pad)
            for _, text in self.labels
        ]
        bounds = QtCore.QRectF(widget.rect()) if widget is not None else None
        screen = [transform.mapRect(box) for box, _ in self.labels]
        self.placed = place_labels(screen, sizes, bounds)
        painter.save()
        painter.resetTransform()
        painter.setPen(QtGui.QColor("white"))
        for rect, (_, text) in zip(self.placed, self.labels, strict=True):
            painter.fillRect(rect, LABEL_PLATE)
            painter.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class BoxesItem:
    """Scored boxes as rectangles colored by score (`box_color`), the highlighted one thicker,
    with their labels (`BoxLabelsItem`)."""

    def __init__(self, layer: BoxesLayer, root: QtWidgets.QGraphicsItem) -> None:
        self.layer = layer
        self.root = root
        self.rects: list[QtWidgets.QGraphicsRectItem] = []
        self.labels = BoxLabelsItem(root)
        self.redraw()
        layer.visible_changed.connect(self.update)
        layer.opacity_changed.connect(self.update)
        layer.highlighted_changed.connect(self.update)
        layer.data_changed.connect(self.redraw)

    def update(self, *_: object) -> None:
        """Visibility, opacity and highlight."""
        for index, (rect, scored) in enumerate(zip(self.rects, self.layer.boxes, strict=True)):
            rect.setVisible(self.layer.visible)
            rect.setOpacity(self.layer.opacity)
            pen = QtGui.QPen(box_color(scored.score))
            pen.setCosmetic(True)
            pen.setWidthF(4.0 if index == self.layer.highlighted else 2.0)
            rect.setPen(pen)
        self.labels.setVisible(self.layer.visible)
        self.labels.setOpacity(self.layer.opacity)

    def redraw(self, *_: object) -> None:
        """One rectangle per box, and the labels of those that have one."""
        self.remove()
        labels = []
        for scored in self.layer.boxes:
            row0, col0, row1, col1 = scored.box
            rect = QtWidgets.QGraphicsRectItem(col0, row0, col1 - col0, row1 - row0, self.root)
            rect.setZValue(20)
            self.rects.append(rect)
            if scored.label:  # e.g. the crop's rank
                labels.append((rect.rect(), scored.label))
        if self.labels.parentItem() is None:  # taken out by remove()
            self.labels = BoxLabelsItem(self.root)
        self.labels.set_labels(labels)
        self.update()

    def remove(self) -> None:
        """Take the rectangles and labels out of the scene."""
        for rect in self.rects:
            _detach(rect)
        self.rects = []
        _detach(self.labels)


class OutlineItem:
    """A closed polygon in a cosmetic pen."""

    def __init__(self, layer: OutlineLayer, root: QtWidgets.QGraphicsItem) -> None:
        self.layer = layer
        self.item = QtWidgets.QGraphicsPathItem(root)
        self.item.setZValue(15)
        self.redraw()
        layer.visible_changed.connect(self.update)
        layer.opacity_changed.connect(self.update)
        layer.data_changed.connect(self.redraw)

    def update(self, *_: object) -> None:
        """Visibility and opacity."""
        self.item.setVisible(self.layer.visible)
        self.item.setOpacity(self.layer.opacity)

    def redraw(self, *_: object) -> None:
        """Rebuild the path from the points."""
        points = [QtCore.QPointF(col, row) for row, col in self.layer.points]
        polygon = QtGui.QPolygonF(points)
        path = QtGui.QPainterPath()
        path.addPolygon(polygon)
        path.closeSubpath()
        self.item.setPath(path)
        pen = QtGui.QPen(QtGui.QColor(self.layer.color))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self.item.setPen(pen)
        self.update()

    def remove(self) -> None:
        """Take the path out of the scene."""
        _detach(self.item)


ITEM_TYPES: dict[type[Layer], type] = {
    HeatmapLayer: HeatmapItem,
    BoxesLayer: BoxesItem,
    OutlineLayer: OutlineItem,
}


class LayerItems:
    """Keeps one item per layer of the bound `LayerList`, under `root`."""

    def __init__(self, root: QtWidgets.QGraphicsItem) -> None:
        self.root = root
        self.layers: LayerList | None = None
        self.items: dict[int, LayerItem] = {}

    def bind(self, layers: LayerList) -> None:
        """Create items for `layers` and follow its inserts and removals."""
        self.unbind()
        self.layers = layers
        for layer in layers:
            self._insert(layer)
        layers.inserted.connect(self._insert)
        layers.removed.connect(self._remove)

    def unbind(self) -> None:
        """Remove every item and stop following the list."""
        if self.layers is not None:
            self.layers.inserted.disconnect(self._insert)
            self.layers.removed.disconnect(self._remove)
            for layer in self.layers:
                self._remove(layer)
        self.layers = None
        self.items = {}

    def _insert(self, layer: Layer) -> None:
        item_type = ITEM_TYPES[type(layer)]
        self.items[id(layer)] = item_type(layer, self.root)

    def _remove(self, layer: Layer) -> None:
        item = self.items.pop(id(layer), None)
        if item is not None:
            item.remove()
            for signal in _signals_of(layer):
                signal.disconnect(item.update, missing_ok=True)
                signal.disconnect(item.redraw, missing_ok=True)


def _signals_of(layer: Layer) -> list:
    names = ("visible_changed", "opacity_changed", "data_changed", "colormap_changed",
             "threshold_changed", "highlighted_changed")  # fmt: skip
    return [getattr(layer, name) for name in names if hasattr(layer, name)]


def _detach(item: QtWidgets.QGraphicsItem) -> None:
    scene = item.scene()
    if scene is not None:
        scene.removeItem(item)

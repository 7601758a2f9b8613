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


class BoxesItem:
    """Scored boxes as rectangles colored by score (`box_color`), the highlighted one thicker."""

    def __init__(self, layer: BoxesLayer, root: QtWidgets.QGraphicsItem) -> None:
        self.layer = layer
        self.root = root
        self.rects: list[QtWidgets.QGraphicsRectItem] = []
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

    def redraw(self, *_: object) -> None:
        """One rectangle per box."""
        self.remove()
        for scored in self.layer.boxes:
            row0, col0, row1, col1 = scored.box
            rect = QtWidgets.QGraphicsRectItem(col0, row0, col1 - col0, row1 - row0, self.root)
            rect.setZValue(20)
            if scored.label:  # e.g. the crop's rank, in screen pixels whatever the zoom
                text = QtWidgets.QGraphicsSimpleTextItem(scored.label, rect)
                text.setPos(col0, row0)
                text.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
                text.setBrush(QtGui.QColor("white"))
            self.rects.append(rect)
        self.update()

    def remove(self) -> None:
        """Take the rectangles out of the scene."""
        for rect in self.rects:
            _detach(rect)
        self.rects = []


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

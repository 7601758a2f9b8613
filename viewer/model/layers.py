"""Layers drawn over an image (AI heatmaps, boxes, breast outline), evented and Qt-free.

Each layer type has cheap properties (visible, opacity, colormap, threshold: the Qt side only
updates its item) and data (values, boxes, polygon: the Qt side redraws). Coordinates are image
pixels of the image the layer belongs to; boxes are (row0, col0, row1, col1), half-open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from psygnal import Signal


class LayerError(ValueError):
    """A layer property was given a value it cannot take; the message names field and value."""


class Colormap(StrEnum):
    """Perceptually uniform colormaps (names as pyqtgraph's `colormap.get` knows them)."""

    VIRIDIS = "viridis"
    INFERNO = "inferno"
    MAGMA = "magma"
    PLASMA = "plasma"
    CIVIDIS = "cividis"


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ScoredBox:
    """One box (row0, col0, row1, col1) with its score in [0, 1] and a label."""

    box: Box
    score: float
    label: str = ""


class Layer:
    """Common state: name, visible, opacity. Subclasses add data and their own signals."""

    visible_changed = Signal(bool)
    opacity_changed = Signal(float)
    data_changed = Signal()

    def __init__(self, name: str, *, visible: bool = True, opacity: float = 1.0) -> None:
        self.name = name
        self._visible = bool(visible)
        self._opacity = _unit(opacity, f"layer {name!r} opacity")

    @property
    def visible(self) -> bool:
        """Whether the layer is drawn."""
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        if bool(value) != self._visible:
            self._visible = bool(value)
            self.visible_changed.emit(self._visible)

    @property
    def opacity(self) -> float:
        """0 (transparent) .. 1 (opaque)."""
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        value = _unit(value, f"layer {self.name!r} opacity")
        if value != self._opacity:
            self._opacity = value
            self.opacity_changed.emit(value)


class HeatmapLayer(Layer):
    """A map of values in [0, 1] stretched over `box`; nothing drawn below `threshold`."""

    colormap_changed = Signal(str)
    threshold_changed = Signal(float)

    def __init__(
        self,
        name: str,
        values: np.ndarray,
        box: Box,
        *,
        colormap: Colormap = Colormap.INFERNO,
        threshold: float = 0.2,
        opacity: float = 0.5,
        visible: bool = True,
    ) -> None:
        super().__init__(name, visible=visible, opacity=opacity)
        self._values, self._box = _heatmap_values(name, values), _valid_box(name, box)
        self._colormap = Colormap(colormap)
        self._threshold = _unit(threshold, f"layer {name!r} threshold")

    @property
    def values(self) -> np.ndarray:
        """float32 (rows, cols) in [0, 1]."""
        return self._values

    @property
    def box(self) -> Box:
        """(row0, col0, row1, col1) of the image area the map covers."""
        return self._box

    def set_data(self, values: np.ndarray, box: Box) -> None:
        """Replace the map and the area it covers (the Qt item redraws)."""
        self._values, self._box = _heatmap_values(self.name, values), _valid_box(self.name, box)
        self.data_changed.emit()

    @property
    def colormap(self) -> Colormap:
        """The colormap the values are drawn with."""
        return self._colormap

    @colormap.setter
    def colormap(self, value: Colormap | str) -> None:
        try:
            value = Colormap(value)
        except ValueError:
            allowed = ", ".join(c.value for c in Colormap)
            raise LayerError(
                f"layer {self.name!r} colormap {value!r}: expected one of {allowed}"
            ) from None
        if value != self._colormap:
            self._colormap = value
            self.colormap_changed.emit(value.value)

    @property
    def threshold(self) -> float:
        """Values below this are transparent."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        value = _unit(value, f"layer {self.name!r} threshold")
        if value != self._threshold:
            self._threshold = value
            self.threshold_changed.emit(value)


class BoxesLayer(Layer):
    """Scored boxes (AI crops), colored by score; one may be highlighted (hover in a list)."""

    highlighted_changed = Signal(object)

    def __init__(self, name: str, boxes: tuple[ScoredBox, ...] = (), **kwargs: float) -> None:
        super().__init__(name, **kwargs)  # type: ignore[arg-type]
        self._boxes = tuple(boxes)
        for item in self._boxes:
            _valid_box(name, item.box)
        self._highlighted: int | None = None

    @property
    def boxes(self) -> tuple[ScoredBox, ...]:
        """The boxes, in rank order."""
        return self._boxes

    def set_boxes(self, boxes: tuple[ScoredBox, ...]) -> None:
        """Replace the boxes (the Qt item redraws); clears the highlight."""
        for item in boxes:
            _valid_box(self.name, item.box)
        self._boxes = tuple(boxes)
        self._highlighted = None
        self.data_changed.emit()

    @property
    def highlighted(self) -> int | None:
        """Index of the highlighted box, or None."""
        return self._highlighted

    @highlighted.setter
    def highlighted(self, value: int | None) -> None:
        if value is not None and not 0 <= value < len(self._boxes):
            raise LayerError(
                f"layer {self.name!r} highlighted {value!r}: expected None or 0.."
                f"{len(self._boxes) - 1}"
            )
        if value != self._highlighted:
            self._highlighted = value
            self.highlighted_changed.emit(value)


class OutlineLayer(Layer):
    """A closed polygon (e.g. the breast outline), points as (row, col)."""

    def __init__(self, name: str, points: np.ndarray, color: str = "#00c8ff", **kwargs: float):
        super().__init__(name, **kwargs)  # type: ignore[arg-type]
        self._points = _polygon(name, points)
        self.color = color

    @property
    def points(self) -> np.ndarray:
        """float (n, 2) array of (row, col) vertices."""
        return self._points

    def set_points(self, points: np.ndarray) -> None:
        """Replace the polygon (the Qt item redraws)."""
        self._points = _polygon(self.name, points)
        self.data_changed.emit()


class LayerList:
    """The ordered layers of one image (drawn first to last); emits on insert and remove."""

    inserted = Signal(object)
    removed = Signal(object)

    def __init__(self) -> None:
        self._layers: list[Layer] = []

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, name: str) -> Layer:
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def append(self, layer: Layer) -> None:
        """Add a layer on top; its name must be new."""
        if any(existing.name == layer.name for existing in self._layers):
            raise LayerError(f"layer name {layer.name!r}: expected a name not already used")
        self._layers.append(layer)
        self.inserted.emit(layer)

    def remove(self, layer: Layer) -> None:
        """Remove a layer (its Qt item goes with it)."""
        self._layers.remove(layer)
        self.removed.emit(layer)

    def clear(self) -> None:
        """Remove every layer."""
        for layer in list(self._layers):
            self.remove(layer)

    def toggle_heatmaps(self) -> None:
        """`H`: hide all heatmaps if any is visible, else show them all."""
        heatmaps = [layer for layer in self._layers if isinstance(layer, HeatmapLayer)]
        show = not any(layer.visible for layer in heatmaps)
        for layer in heatmaps:
            layer.visible = show


def _unit(value: float, what: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise LayerError(f"{what} {value!r}: expected a number in [0, 1]")
    return value


def _valid_box(name: str, box: Box) -> Box:
    row0, col0, row1, col1 = (float(v) for v in box)
    if not (row1 > row0 and col1 > col0):
        raise LayerError(
            f"layer {name!r} box {box!r}: expected (row0, col0, row1, col1) with row1 > row0 "
            "and col1 > col0"
        )
    return row0, col0, row1, col1


def _heatmap_values(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.size == 0:
        raise LayerError(f"layer {name!r} values shape {values.shape}: expected (rows, cols)")
    return values


def _polygon(name: str, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
        raise LayerError(
            f"layer {name!r} outline shape {points.shape}: expected (n >= 3, 2) (row, col) points"
        )
    return points

"""Layers: validated setters emit one named signal; the list emits inserts and removals."""

import numpy as np
import pytest

from viewer.model import (
    BoxesLayer,
    Colormap,
    HeatmapLayer,
    LayerError,
    LayerList,
    OutlineLayer,
    ScoredBox,
)


def heatmap(name: str = "global") -> HeatmapLayer:
    return HeatmapLayer(name, np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), (0, 0, 30, 40))


def test_setters_validate_store_and_emit_once() -> None:
    layer = heatmap()
    seen: list[object] = []
    layer.opacity_changed.connect(seen.append)
    layer.colormap_changed.connect(seen.append)
    layer.threshold_changed.connect(seen.append)
    layer.opacity = 0.8
    layer.opacity = 0.8  # no change, no signal
    layer.colormap = "viridis"
    layer.threshold = 0.5
    assert seen == [0.8, "viridis", 0.5]
    assert layer.colormap is Colormap.VIRIDIS
    with pytest.raises(LayerError, match=r"opacity 1\.5"):
        layer.opacity = 1.5
    with pytest.raises(LayerError, match="colormap 'rainbow'"):
        layer.colormap = "rainbow"
    assert layer.opacity == 0.8


def test_boxes_and_outline_validate_geometry() -> None:
    with pytest.raises(LayerError, match="box"):
        BoxesLayer("crops", (ScoredBox((10, 10, 5, 20), 0.5),))
    boxes = BoxesLayer("crops", (ScoredBox((0, 0, 10, 10), 0.9), ScoredBox((5, 5, 9, 9), 0.1)))
    boxes.highlighted = 1
    with pytest.raises(LayerError, match="highlighted 2"):
        boxes.highlighted = 2
    with pytest.raises(LayerError, match="outline shape"):
        OutlineLayer("breast", np.zeros((2, 2)))


def test_layer_list_names_are_unique_and_h_toggles_all_heatmaps() -> None:
    layers = LayerList()
    inserted: list[str] = []
    layers.inserted.connect(lambda layer: inserted.append(layer.name))
    layers.append(heatmap("global"))
    layers.append(heatmap("crop 1"))
    layers.append(OutlineLayer("breast", np.array([[0, 0], [0, 5], [5, 5]])))
    with pytest.raises(LayerError, match="'global'"):
        layers.append(heatmap("global"))
    assert inserted == ["global", "crop 1", "breast"]
    layers.toggle_heatmaps()
    assert not layers["global"].visible and not layers["crop 1"].visible
    assert layers["breast"].visible
    layers.toggle_heatmaps()
    assert layers["global"].visible
    layers.clear()
    assert len(layers) == 0

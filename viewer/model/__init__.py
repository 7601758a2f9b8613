"""Evented, Qt-free display state: image display (VOI), camera, layers, hanging protocols.

Setters validate, store, then emit one named psygnal signal; `viewer.qt` only listens and edits.
"""

from viewer.model.camera import Camera, CameraError
from viewer.model.display import DisplayStateError, ImageDisplay, WindowPreset, file_presets
from viewer.model.hanging import (
    DEFAULT_PROTOCOLS,
    FOUR_VIEW_MAMMOGRAPHY,
    SINGLE_VIEW,
    Cell,
    Hanging,
    HangingProtocol,
    SelectionRule,
    Side,
    chest_wall_side,
    choose_hanging,
    needs_flip,
)
from viewer.model.layers import (
    BoxesLayer,
    Colormap,
    HeatmapLayer,
    Layer,
    LayerError,
    LayerList,
    OutlineLayer,
    ScoredBox,
)
from viewer.model.overlay import Corner, overlay_text, warnings_for
from viewer.model.sampling import ScreenSampler, Tile, area_reduce, reduction_step
from viewer.model.session import ViewerState

__all__ = [
    "DEFAULT_PROTOCOLS",
    "FOUR_VIEW_MAMMOGRAPHY",
    "SINGLE_VIEW",
    "BoxesLayer",
    "Camera",
    "CameraError",
    "Cell",
    "Colormap",
    "Corner",
    "DisplayStateError",
    "Hanging",
    "HangingProtocol",
    "HeatmapLayer",
    "ImageDisplay",
    "Layer",
    "LayerError",
    "LayerList",
    "OutlineLayer",
    "ScoredBox",
    "ScreenSampler",
    "SelectionRule",
    "Side",
    "Tile",
    "ViewerState",
    "WindowPreset",
    "area_reduce",
    "chest_wall_side",
    "choose_hanging",
    "file_presets",
    "needs_flip",
    "overlay_text",
    "reduction_step",
    "warnings_for",
]

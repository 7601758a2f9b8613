"""The image canvas: one image, its overlays and mouse interaction, windowing at screen cost.

The scene is in screen pixels; a root item carries the camera transform (zoom, pan, mirroring),
so every child (the image, AI layers) is positioned in image pixels. The image item never holds
the full image: it shows the visible region, area-reduced to about screen resolution
(`viewer.model.sampling`), mapped through the display LUT, placed with `setRect`.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from viewer.model import (
    Camera,
    ImageDisplay,
    ScreenSampler,
    Side,
    Tile,
    ViewerState,
    area_reduce,
)
from viewer.qt.layer_items import LayerItems
from viewer.qt.overlays import Overlay
from viewer.qt.workers import Jobs

WHEEL_ZOOM_PER_DEGREE = 1.0125  # one notch (15 degrees) zooms by ~20 %


class Tool(StrEnum):
    """What a left-drag does (right-drag always windows)."""

    PAN = "pan"
    WINDOW = "window"


class ImageCanvas(QtWidgets.QGraphicsView):
    """Shows one `ImageDisplay` through a `Camera`; empty until `set_display` is called."""

    hovered = QtCore.Signal(str)  # status bar text for the pixel under the cursor
    activated = QtCore.Signal(object)  # this canvas got a click: it becomes the active one
    # pyqtgraph items connect to these on any view they are shown in (pg.GraphicsView's API);
    # our items need no notification (no auto-downsampling), so they are never emitted.
    sigDeviceRangeChanged = QtCore.Signal(object)  # noqa: N815 (pyqtgraph name)
    sigDeviceTransformChanged = QtCore.Signal(object)  # noqa: N815 (pyqtgraph name)

    def __init__(
        self, state: ViewerState, parent: QtWidgets.QWidget | None = None, jobs: Jobs | None = None
    ) -> None:
        """With `jobs`, area-reduced levels are computed in workers (a strided stand-in shows
        meanwhile); without, on the spot."""
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self._levels_in_flight: set[tuple[int, int]] = set()
        self.tool = Tool.PAN
        self.display: ImageDisplay | None = None
        self.camera: Camera | None = None
        self._sampler: ScreenSampler | None = None
        self._color_frames: np.ndarray | None = None
        self._placed_tile: Tile | None = None
        self._drag: tuple[QtCore.Qt.MouseButton, QtCore.QPointF] | None = None
        self._setup_scene()
        self.overlay = Overlay(self)
        self.layer_items = LayerItems(self._root)
        state.privacy_changed.connect(self._update_overlay)

    def _setup_scene(self) -> None:
        self.setScene(QtWidgets.QGraphicsScene(self))
        # A handful of items: a BSP index only costs time on every geometry change.
        self.scene().setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(QtGui.QColor("black"))
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setOptimizationFlag(QtWidgets.QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)  # the main window takes drops
        self.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.NoContextMenu)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        ignored = QtWidgets.QSizePolicy.Policy.Ignored
        self.setSizePolicy(ignored, ignored)  # the grid decides; the scene rect must not
        self._root = QtWidgets.QGraphicsRectItem()  # carries the camera transform
        self._root.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.scene().addItem(self._root)
        self.image_item = pg.ImageItem()
        self.image_item.setParentItem(self._root)
        self.image_item.setOpts(autoLevels=False)
        self.image_item.setLevels(None)

    # --- binding -------------------------------------------------------------------------

    def set_display(
        self,
        display: ImageDisplay,
        flip_horizontal: bool = False,
        fit_side: Side | None = None,
    ) -> None:
        """Show `display` fitted (against `fit_side` if given), replacing any other display."""
        self.clear()
        self.display = display
        stored = display.image.stored
        if display.is_color or stored.dtype.kind not in "iu" or stored.dtype.itemsize > 2:
            self._color_frames = self._display_ready_frames(display)
            self._sampler = ScreenSampler(self._color_frames)
        else:
            self._sampler = ScreenSampler(stored, deferred=self.jobs is not None)
        rows, cols = self._sampler.shape
        self.camera = Camera((rows, cols), self._canvas_size())
        self.camera.flip_horizontal = flip_horizontal
        self.camera.fit_side = fit_side
        self.camera.view_changed.connect(self.refresh)
        display.voi_changed.connect(self._on_display_changed)
        display.invert_changed.connect(self._on_display_changed)
        display.frame_changed.connect(self._on_display_changed)
        self.layer_items.bind(display.layers)
        self.refresh()

    def clear(self) -> None:
        """Show nothing and stop listening to the old display."""
        if self.display is not None:
            for signal in (
                self.display.voi_changed,
                self.display.invert_changed,
                self.display.frame_changed,
            ):
                signal.disconnect(self._on_display_changed)
        if self.camera is not None:
            self.camera.view_changed.disconnect(self.refresh)
        self.layer_items.unbind()
        self.display = self.camera = self._sampler = self._color_frames = None
        self._placed_tile = None
        self._levels_in_flight = set()
        self.image_item.clear()
        self.overlay.clear()

    def _display_ready_frames(self, display: ImageDisplay) -> np.ndarray:
        """Color (or non-integer) images: every frame rendered once by dicomio, uint8."""
        from viewer import dicomio

        frames = [
            dicomio.render_display(display.image, display.voi, display.invert, frame)
            for frame in range(display.number_of_frames)
        ]
        return np.stack(frames)

    # --- rendering -----------------------------------------------------------------------

    def _on_display_changed(self, *_: object) -> None:
        if (
            self._color_frames is not None
            and self.display is not None
            and not self.display.is_color
        ):
            # Non-integer grayscale: no stored-value LUT exists, re-render the frames.
            self._color_frames = self._display_ready_frames(self.display)
            self._sampler = ScreenSampler(self._color_frames)
        self.refresh()

    def refresh(self) -> None:
        """Put the visible region's pixels on screen for the current display state and camera."""
        if self.display is None or self.camera is None or self._sampler is None:
            return
        self._apply_camera()
        tile = self._sampler.tile(self.display.frame, self.camera.visible_rect(), self.camera.zoom)
        self.image_item.setImage(self._pixels(tile), autoLevels=False)
        if tile is not self._placed_tile:  # W/L steps keep the tile: no geometry change
            row0, col0, rows, cols = tile.rect
            self.image_item.setRect(QtCore.QRectF(col0, row0, cols, rows))
            self._placed_tile = tile
        self._update_overlay()
        if self._sampler.missing_levels:
            self._compute_levels(self._sampler)

    def _compute_levels(self, sampler: ScreenSampler) -> None:
        """Average the levels the strided stand-ins replace, in workers; refresh when done."""
        assert self.jobs is not None
        for key in sampler.missing_levels - self._levels_in_flight:
            self._levels_in_flight.add(key)
            frame, step = key

            def ready(reduced: np.ndarray, key: tuple[int, int] = key) -> None:
                self._levels_in_flight.discard(key)
                if sampler is self._sampler:  # still the image shown
                    sampler.add_level(key, reduced)
                    self.refresh()

            self.jobs.start(area_reduce, sampler.frames[frame], step, returned=ready)

    def _pixels(self, tile: Tile) -> np.ndarray:
        if self._color_frames is not None:
            return tile.data
        assert self.display is not None and self._sampler is not None
        offset, table = self.display.lut()
        return self._sampler.render(tile, offset, table)

    def _apply_camera(self) -> None:
        assert self.camera is not None
        zoom = self.camera.zoom
        sx = -1.0 if self.camera.flip_horizontal else 1.0
        width, height = self.camera.canvas_size
        center_row, center_col = self.camera.center
        transform = QtGui.QTransform(
            sx * zoom, 0.0, 0.0, zoom, width / 2.0 - sx * center_col * zoom,
            height / 2.0 - center_row * zoom,
        )  # fmt: skip
        if transform != self._root.transform():
            self._root.setTransform(transform)

    def _update_overlay(self, *_: object) -> None:
        if self.display is None or self.camera is None:
            self.overlay.clear()
            return
        self.overlay.show_state(self.display, self.camera.zoom, self.state.privacy)

    # --- geometry ------------------------------------------------------------------------

    def drawForeground(  # noqa: N802
        self, painter: QtGui.QPainter, rect: QtCore.QRectF | QtCore.QRect
    ) -> None:
        """Corner text over the image (scene coordinates are viewport pixels)."""
        width, height = self._canvas_size()
        self.overlay.paint(painter, width, height)

    def viewport_pos_of(self, row: float, col: float) -> QtCore.QPointF:
        """Where image point (row, col) is drawn, in viewport pixels (through the Qt transforms)."""
        scene = self._root.mapToScene(QtCore.QPointF(col, row))
        return QtCore.QPointF(self.mapFromScene(scene))

    def _canvas_size(self) -> tuple[int, int]:
        size = self.viewport().size()
        return max(size.width(), 1), max(size.height(), 1)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Keep the scene in viewport pixels and tell the camera the new size."""
        super().resizeEvent(event)
        width, height = self._canvas_size()
        self.setSceneRect(0, 0, width, height)
        self.overlay.place_banner()
        if self.camera is not None:
            self.camera.canvas_size = (width, height)

    # --- interaction ---------------------------------------------------------------------

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:  # noqa: N802 (Qt override)
        """Zoom at the cursor: the image point under it stays under it."""
        if self.camera is None:
            return
        degrees = event.angleDelta().y() / 8.0
        position = event.position()
        self.camera.zoom_at(WHEEL_ZOOM_PER_DEGREE**degrees, (position.x(), position.y()))
        event.accept()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """Start a pan (left) or a window drag (right, or left with the W/L tool)."""
        self.activated.emit(self)
        self.setFocus()
        if event.button() in (QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.RightButton):
            self._drag = (event.button(), event.position())
        event.accept()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """Pan, window, or report the pixel under the cursor."""
        position = event.position()
        if self._drag is None or self.camera is None or self.display is None:
            self._report_pixel(position)
            return
        button, last = self._drag
        dx, dy = position.x() - last.x(), position.y() - last.y()
        self._drag = (button, position)
        windowing = button == QtCore.Qt.MouseButton.RightButton or self.tool == Tool.WINDOW
        if windowing and not self.display.is_color:
            self.display.drag_window(dx, dy)
        else:
            self.camera.pan(dx, dy)
        event.accept()

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """End the drag."""
        self._drag = None
        event.accept()

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt override)
        """Fit the image to the canvas."""
        if self.camera is not None:
            self.camera.fit()
        event.accept()

    def _report_pixel(self, position: QtCore.QPointF) -> None:
        if self.camera is None or self.display is None:
            return
        row_f, col_f = self.camera.screen_to_image(position.x(), position.y())
        row, col = int(np.floor(row_f)), int(np.floor(col_f))
        rows, cols = self.camera.image_shape
        if not (0 <= row < rows and 0 <= col < cols):
            self.hovered.emit("")
            return
        self.hovered.emit(pixel_text(self.display, row, col))


def pixel_text(display: ImageDisplay, row: int, col: int) -> str:
    """Status bar text: position, stored value and modality value of one pixel."""
    stored = display.image.stored[display.frame, row, col]
    if np.ndim(stored) > 0:  # color
        return f"x {col}  y {row}   RGB {tuple(int(v) for v in stored)}"
    modality = display.image.stored_to_modality(stored)
    return f"x {col}  y {row}   stored {stored}   modality {float(modality):.6g}"

"""Which part of an image a canvas shows, Qt-free: zoom, center and horizontal mirroring.

Screen coordinates are canvas pixels (x right, y down, origin top-left); image coordinates are
(row, col) in image pixels, pixel (r, c) covering [r, r + 1) x [c, c + 1). `zoom` is screen pixels
per image pixel. With `flip_horizontal` the image is mirrored left-right on screen (hanging
protocols mirror a view so the breasts face each other).
"""

from __future__ import annotations

import math

from psygnal import Signal

from viewer.model.hanging import Side

MIN_ZOOM = 1.0 / 64.0
MAX_ZOOM = 64.0


class CameraError(ValueError):
    """A camera property was given a value it cannot take; the message names field and value."""


class Camera:
    """Zoom, center and mirroring of one canvas; `view_changed` fires once per change of view."""

    view_changed = Signal()
    flip_changed = Signal(bool)
    canvas_size_changed = Signal(tuple)

    def __init__(self, image_shape: tuple[int, int], canvas_size: tuple[int, int] = (1, 1)) -> None:
        self._rows, self._cols = int(image_shape[0]), int(image_shape[1])
        if self._rows < 1 or self._cols < 1:
            raise CameraError(f"image_shape {image_shape!r}: expected positive rows and columns")
        self._width, self._height = _valid_size(canvas_size)
        self._flip = False
        self._fit_side: Side | None = None
        self._zoom = 1.0
        self._center = (self._rows / 2.0, self._cols / 2.0)
        self._fitted = True
        self._set_view(self.fit_zoom, self._center)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(rows, cols) of the image."""
        return self._rows, self._cols

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the canvas in screen pixels."""
        return self._width, self._height

    @canvas_size.setter
    def canvas_size(self, value: tuple[int, int]) -> None:
        size = _valid_size(value)
        if size == (self._width, self._height):
            return
        self._width, self._height = size
        self.canvas_size_changed.emit(size)
        if self._fitted:  # a fitted image stays fitted when the window is resized
            self.fit()
        else:
            self.view_changed.emit()

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self._zoom

    @property
    def center(self) -> tuple[float, float]:
        """The image point (row, col) at the middle of the canvas."""
        return self._center

    @property
    def flip_horizontal(self) -> bool:
        """Whether the image is mirrored left-right on screen."""
        return self._flip

    @flip_horizontal.setter
    def flip_horizontal(self, value: bool) -> None:
        value = bool(value)
        if value == self._flip:
            return
        self._flip = value
        self.flip_changed.emit(value)
        if self._fitted:
            self.fit()
        self.view_changed.emit()

    @property
    def fit_side(self) -> Side | None:
        """The canvas side a fitted image touches (hanging: chest wall to the middle), or None."""
        return self._fit_side

    @fit_side.setter
    def fit_side(self, value: Side | None) -> None:
        self._fit_side = None if value is None else Side(value)
        if self._fitted:
            self.fit()

    @property
    def fit_zoom(self) -> float:
        """The zoom at which the whole image just fits the canvas."""
        return min(self._width / self._cols, self._height / self._rows)

    @property
    def is_fitted(self) -> bool:
        """True until the user zooms or pans away from the fitted view."""
        return self._fitted

    def set_view(self, zoom: float, center: tuple[float, float]) -> None:
        """Show `center` (row, col) at the middle of the canvas at `zoom` (clamped)."""
        self._fitted = False
        self._set_view(zoom, center)

    def fit(self) -> None:
        """Whole image visible, centered, or against `fit_side` when one is set."""
        self._fitted = True
        zoom = self.fit_zoom
        spare = max(self._width - self._cols * zoom, 0.0) / 2.0  # screen px left and right
        shift = {Side.RIGHT: spare, Side.LEFT: -spare, None: 0.0}[self._fit_side]
        sx = -1.0 if self._flip else 1.0
        self._set_view(zoom, (self._rows / 2.0, self._cols / 2.0 - sx * shift / zoom))

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, keeping the current center."""
        self.set_view(1.0, self._center)

    def zoom_at(self, factor: float, screen_xy: tuple[float, float]) -> None:
        """Zoom by `factor` keeping the image point under `screen_xy` where it is on screen."""
        if not factor > 0:
            raise CameraError(f"zoom factor {factor!r}: expected > 0")
        row, col = self.screen_to_image(*screen_xy)
        zoom = _clamp_zoom(self._zoom * factor)
        x, y = screen_xy
        sx = -1.0 if self._flip else 1.0
        center_col = col - sx * (x - self._width / 2.0) / zoom
        center_row = row - (y - self._height / 2.0) / zoom
        self.set_view(zoom, (center_row, center_col))

    def pan(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) screen pixels, as if dragged."""
        sx = -1.0 if self._flip else 1.0
        row, col = self._center
        self.set_view(self._zoom, (row - dy / self._zoom, col - sx * dx / self._zoom))

    def screen_to_image(self, x: float, y: float) -> tuple[float, float]:
        """Image (row, col) under screen point (x, y); not clamped to the image."""
        sx = -1.0 if self._flip else 1.0
        row = self._center[0] + (y - self._height / 2.0) / self._zoom
        col = self._center[1] + sx * (x - self._width / 2.0) / self._zoom
        return row, col

    def image_to_screen(self, row: float, col: float) -> tuple[float, float]:
        """Screen (x, y) of image point (row, col)."""
        sx = -1.0 if self._flip else 1.0
        x = self._width / 2.0 + sx * (col - self._center[1]) * self._zoom
        y = self._height / 2.0 + (row - self._center[0]) * self._zoom
        return x, y

    def visible_rect(self) -> tuple[float, float, float, float]:
        """(row0, col0, row1, col1) of the image area the canvas covers, not clamped."""
        half_h = self._height / 2.0 / self._zoom
        half_w = self._width / 2.0 / self._zoom
        row, col = self._center
        return row - half_h, col - half_w, row + half_h, col + half_w

    def _set_view(self, zoom: float, center: tuple[float, float]) -> None:
        zoom = _clamp_zoom(zoom)
        # Keep part of the image on screen: the visible area must overlap the image.
        half_h, half_w = self._height / 2.0 / zoom, self._width / 2.0 / zoom
        row = min(max(float(center[0]), -half_h + 1.0), self._rows + half_h - 1.0)
        col = min(max(float(center[1]), -half_w + 1.0), self._cols + half_w - 1.0)
        if zoom == self._zoom and (row, col) == self._center:
            return
        self._zoom = zoom
        self._center = (row, col)
        self.view_changed.emit()


def _clamp_zoom(zoom: float) -> float:
    if not math.isfinite(zoom) or zoom <= 0:
        raise CameraError(f"zoom {zoom!r}: expected a finite number > 0")
    return min(max(zoom, MIN_ZOOM), MAX_ZOOM)


def _valid_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise CameraError(f"canvas_size {size!r}: expected width and height >= 1")
    return width, height

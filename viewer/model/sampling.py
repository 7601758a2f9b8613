"""The visible part of an image at screen resolution: what makes windowing fast.

A mammogram has ~13.6 M pixels; a canvas shows ~2 M. Applying the display LUT to the whole image
on every window/level step is wasted work, so the canvas asks for a `Tile`: the stored values of
the visible region at one value per screen pixel. Below 1:1 the image is first area-reduced by
the integer factor `step` (block means, cached per level), then sampled at the screen pixel
centers, so the tile is drawn unscaled. At zoom >= 1 the tile holds the real stored pixels and
the canvas magnifies them (nearest neighbour). Tiles are cached while the view does not change,
so a W/L drag costs one table lookup over the screen-sized tile only.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Tile:
    """Values of an image region and where it lies: `rect` = (row0, col0, rows, cols).

    `rect` is in full-resolution image pixels (fractional below 1:1); `data` covers it evenly.
    """

    data: np.ndarray
    rect: tuple[float, float, float, float]
    step: int
    frame: int


def reduction_step(zoom: float) -> int:
    """Integer area-reduction factor for `zoom` screen px per image px (1 at zoom >= 1)."""
    if zoom >= 1.0:
        return 1
    return max(1, math.floor(1.0 / zoom + 1e-9))


def fit_step(shape: tuple[int, int], canvas_size: tuple[int, int]) -> int:
    """Reduction step of a fitted image of `shape` (rows, cols) on a (width, height) canvas."""
    zoom = min(canvas_size[0] / shape[1], canvas_size[1] / shape[0])
    return reduction_step(zoom)


def area_reduce(pixels: np.ndarray, step: int) -> np.ndarray:
    """Mean of each `step` x `step` block (partial blocks at the edges too), same dtype."""
    if step == 1:
        return pixels
    rows, cols = pixels.shape[:2]
    out_rows, out_cols = -(-rows // step), -(-cols // step)
    total = np.zeros((out_rows, out_cols, *pixels.shape[2:]), dtype=np.float32)
    for i in range(step):
        for j in range(step):
            part = pixels[i::step, j::step]
            total[: part.shape[0], : part.shape[1]] += part
    row_counts = np.minimum(step, rows - np.arange(out_rows) * step).astype(np.float32)
    col_counts = np.minimum(step, cols - np.arange(out_cols) * step).astype(np.float32)
    counts = np.outer(row_counts, col_counts)
    if pixels.ndim == 3:
        counts = counts[..., None]
    total /= counts
    if pixels.dtype.kind in "iu":
        np.rint(total, out=total)
    return total.astype(pixels.dtype)


class ScreenSampler:
    """Cached `Tile`s of one image's frames; `frames` is (frames, rows, cols[, 3]).

    Keeps the few most recent reduced levels and tiles, so panning and zooming back and forth
    does not redo the reduction.
    """

    MARGIN = 2  # reduced pixels around the visible area, so sub-pixel pans reuse the tile

    def __init__(
        self,
        frames: np.ndarray,
        max_levels: int = 3,
        levels: dict[tuple[int, int], np.ndarray] | None = None,
        deferred: bool = False,
    ) -> None:
        """`levels` seeds the cache: {(frame, step): area_reduce(frames[frame], step)}.

        With `deferred`, a level not yet computed is stood in for by a strided view (every
        `step`-th pixel, no averaging, no cost) and listed in `missing_levels`; the caller
        computes it elsewhere (a worker) and hands it back with `add_level`.
        """
        self._frames = frames
        self._deferred = deferred
        self.missing_levels: set[tuple[int, int]] = set()
        self._levels: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict(levels or {})
        self._max_levels = max_levels
        self._tile: Tile | None = None
        self._tile_key: tuple[float, ...] | None = None
        self._index: tuple[Tile, int, int, np.ndarray] | None = None

    @property
    def frames(self) -> np.ndarray:
        """The full-resolution frames sampled."""
        return self._frames

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame."""
        return int(self._frames.shape[1]), int(self._frames.shape[2])

    def level(self, frame: int, step: int) -> np.ndarray:
        """Frame `frame` area-reduced by `step` (cached, least recently used dropped)."""
        key = (frame, step)
        if key in self._levels:
            self._levels.move_to_end(key)
            return self._levels[key]
        if self._deferred and step > 1:
            self.missing_levels.add(key)
            return self._frames[frame, ::step, ::step]
        reduced = area_reduce(self._frames[frame], step)
        self.add_level(key, reduced)
        return reduced

    def add_level(self, key: tuple[int, int], reduced: np.ndarray) -> None:
        """Cache `reduced` = area_reduce(frames[frame], step) for key (frame, step)."""
        step = key[1]
        self.missing_levels.discard(key)
        if step > 1:  # step 1 is the frame itself: nothing to cache
            self._levels[key] = reduced
            while len(self._levels) > self._max_levels:
                self._levels.popitem(last=False)
        if self._tile is not None and (self._tile.frame, self._tile.step) == key:
            self._tile = self._tile_key = None  # the next tile() samples the averaged level

    def tile(self, frame: int, visible: tuple[float, float, float, float], zoom: float) -> Tile:
        """The tile covering `visible` (row0, col0, row1, col1) at `zoom`; same object if cached."""
        if zoom < 1.0:
            return self._screen_tile(frame, visible, zoom)
        rows, cols = self.shape
        r0 = _clip(math.floor(visible[0]) - self.MARGIN, rows)
        c0 = _clip(math.floor(visible[1]) - self.MARGIN, cols)
        r1 = _clip(math.ceil(visible[2]) + self.MARGIN, rows)
        c1 = _clip(math.ceil(visible[3]) + self.MARGIN, cols)
        key = (frame, 1.0, r0, c0, r1, c1)
        if self._tile is not None and key == self._tile_key:
            return self._tile
        data = np.ascontiguousarray(self._frames[frame, r0:r1, c0:c1])
        rect = (float(r0), float(c0), float(r1 - r0), float(c1 - c0))
        step = 1
        self._tile, self._tile_key = Tile(data, rect, step, frame), key
        return self._tile

    def _screen_tile(
        self, frame: int, visible: tuple[float, float, float, float], zoom: float
    ) -> Tile:
        """Below 1:1: the area-reduced level sampled at the centers of the screen pixels."""
        rows, cols = self.shape
        row0, col0 = max(visible[0], 0.0), max(visible[1], 0.0)
        out_rows = max(math.floor((min(visible[2], rows) - row0) * zoom), 0)
        out_cols = max(math.floor((min(visible[3], cols) - col0) * zoom), 0)
        key = (frame, zoom, row0, col0, out_rows, out_cols)
        if self._tile is not None and key == self._tile_key:
            return self._tile
        step = reduction_step(zoom)
        level = self.level(frame, step)
        row_index = _sample_index(row0, out_rows, zoom, step, level.shape[0])
        col_index = _sample_index(col0, out_cols, zoom, step, level.shape[1])
        data = level[row_index[:, None], col_index[None, :]]
        rect = (row0, col0, out_rows / zoom, out_cols / zoom)
        self._tile, self._tile_key = Tile(data, rect, step, frame), key
        return self._tile

    def render(
        self, tile: Tile, offset: int, table: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """uint8 gray levels of a grayscale tile, `table[stored - offset]`; the index is cached.

        Converting the tile to a clipped intp index once per tile makes each W/L step a plain
        gather (`np.take(..., mode="wrap")` skips the bounds check the clipping made redundant).
        """
        cached = self._index
        if cached is None or cached[0] is not tile or cached[1:3] != (offset, len(table)):
            cached = (tile, offset, len(table), lut_index(tile, offset, len(table)))
            self._index = cached
        return np.take(table, cached[3], mode="wrap", out=out)


def lut_index(tile: Tile, offset: int, size: int) -> np.ndarray:
    """`clip(stored - offset, 0, size - 1)` as intp: the index into a display table of `size`.

    Values outside the table (not expected from valid files) take the end entries.
    """
    index = tile.data.astype(np.intp)
    if offset:
        index -= offset
    return np.clip(index, 0, size - 1, out=index)


def _sample_index(start: float, count: int, zoom: float, step: int, size: int) -> np.ndarray:
    """Level indices under the centers of `count` screen pixels from image coordinate `start`."""
    centers = start + (np.arange(count, dtype=np.float64) + 0.5) / zoom
    return np.clip((centers // step).astype(np.intp), 0, size - 1)


def _clip(value: int, upper: int) -> int:
    return min(max(value, 0), upper)

"""Qt-free helpers that turn a Result into what the reader sees: outline, crop pixels, zoom.

The breast outline: `inference.Result` carries no breast mask, so the outline is recomputed
here with the engine's own functions (`inference.preprocess.shrink` and `segment_breast`) at the
shrink factor and orientation the analysis recorded in its provenance: the same mask the model
used, traced as one polygon in original image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference import Heatmap, Result
from inference.preprocess import segment_breast, shrink
from viewer import dicomio
from viewer.model.camera import Camera
from viewer.model.display import ImageDisplay

ZOOM_MARGIN = 1.6  # the zoomed view shows the crop box and this much context around it
# Heatmaps are coloured on the GUI thread (36 ms for 1024 x 832, 7.5 ms for 512 x 416): no more
# rows than this. Grad-CAM maps are upsampled from a coarse cam, so nothing is lost at fit zoom.
DISPLAY_MAP_ROWS = 512
CROP_MAP_ROWS = 128
OUTLINE_ROWS = 160  # rows traced per side: smooth on screen, cheap to draw


def breast_mask(values: np.ndarray, result: Result) -> tuple[np.ndarray, int, bool]:
    """(mask of the shrunk canonical image, shrink factor, flipped) exactly as the analysis."""
    pre = result.provenance.preprocessing
    factor, flipped = int(pre.get("shrink_factor", 1)), bool(pre.get("flipped", False))
    small, _ = shrink(np.asarray(values, np.float32), factor, flipped)
    return segment_breast(small), factor, flipped


@dataclass(frozen=True, eq=False)
class BreastMask:
    """The analysis' breast mask: shrunk, canonical (chest wall left), with how to map it back."""

    mask: np.ndarray
    factor: int
    flipped: bool
    image_hw: tuple[int, int]

    @classmethod
    def of(cls, values: np.ndarray, result: Result) -> BreastMask:
        """Recompute the mask the analysis of `values` used (see the module docstring)."""
        mask, factor, flipped = breast_mask(values, result)
        return cls(mask, factor, flipped, result.image_hw)

    def outline(self) -> np.ndarray | None:
        """The outline as (row, col) polygon vertices in original pixels, or None if empty.

        Per shrunk row, the breast's extent is traced (outer edge down, inner edge up): the mask
        is one filled component attached to the chest wall, so this is its outline up to
        concavities along rows.
        """
        mask, factor = self.mask, self.factor
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows) < 2:
            return None
        step = max(1, len(rows) // OUTLINE_ROWS)
        rows = np.unique(np.concatenate([rows[::step], rows[-1:]]))
        sub = mask[rows]
        first = sub.argmax(axis=1)
        last = sub.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
        centres = (rows + 0.5) * factor
        outer = np.column_stack([centres, (last + 1.0) * factor])
        inner = np.column_stack([centres[::-1], first[::-1] * float(factor)])
        points = np.concatenate([outer, inner])
        if self.flipped:
            points[:, 1] = self.image_hw[1] - points[:, 1]
        return points

    def inside(self, heatmap: Heatmap) -> np.ndarray:
        """The global heatmap's values with everything outside the breast set to 0 (display).

        The global map covers the analysed ("covered") area exactly as the shrunk mask does, so
        the mask is resampled (nearest) onto the map's grid in original orientation.
        """
        mask = self.mask[:, ::-1] if self.flipped else self.mask
        rows, cols = heatmap.values.shape
        r = np.minimum(
            ((np.arange(rows) + 0.5) * mask.shape[0] / rows).astype(int), mask.shape[0] - 1
        )
        c = np.minimum(
            ((np.arange(cols) + 0.5) * mask.shape[1] / cols).astype(int), mask.shape[1] - 1
        )
        return np.where(mask[np.ix_(r, c)], heatmap.values, np.float32(0))


def display_map(values: np.ndarray, max_rows: int = DISPLAY_MAP_ROWS) -> np.ndarray:
    """A heatmap block-averaged by an integer factor to at most `max_rows` rows, for drawing.

    Grad-CAM maps are smooth upsamplings of a much coarser cam, so this loses nothing visible and
    keeps colouring the map on the GUI thread cheap.
    """
    factor = -(-values.shape[0] // max_rows)
    if factor <= 1:
        return values
    pad = [(0, -n % factor) for n in values.shape]  # edge-padded: the map still spans its box
    padded = np.pad(values, pad, mode="edge")
    rows, cols = padded.shape
    blocks = padded.reshape(rows // factor, factor, cols // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def breast_outline(values: np.ndarray, result: Result) -> np.ndarray | None:
    """The breast outline of the analysis (see `BreastMask.outline`)."""
    return BreastMask.of(values, result).outline()


def crop_display(display: ImageDisplay, box: tuple[int, int, int, int]) -> np.ndarray:
    """The crop's pixels at full resolution as the reader sees them now (current window, uint8)."""
    r0, c0, r1, c1 = (int(v) for v in box)
    image = display.image
    stored = image.stored[display.frame]
    region = stored[max(r0, 0) : r1, max(c0, 0) : c1]
    if image.header.is_grayscale and region.dtype.kind in "iu" and region.dtype.itemsize <= 2:
        offset, table = display.lut()
        return table[np.clip(region.astype(np.int64) - offset, 0, len(table) - 1)]
    full = dicomio.render_display(image, display.voi, display.invert, display.frame)
    return np.ascontiguousarray(full[max(r0, 0) : r1, max(c0, 0) : c1])


def zoom_to_box(camera: Camera, box: tuple[float, float, float, float]) -> None:
    """Centre `box` and zoom so that it fills the canvas with a margin around it (at least 1:1
    when the box fits the canvas at 1:1: the reader sees the crop at full resolution)."""
    r0, c0, r1, c1 = box
    width, height = camera.canvas_size
    zoom = min(width / ((c1 - c0) * ZOOM_MARGIN), height / ((r1 - r0) * ZOOM_MARGIN))
    if zoom < 1.0 and width >= c1 - c0 and height >= r1 - r0:
        zoom = 1.0  # full resolution whenever the box fits at 1:1, context or not
    camera.set_view(zoom, ((r0 + r1) / 2.0, (c0 + c1) / 2.0))

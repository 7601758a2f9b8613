"""Top-K crop boxes by greedy non-maximum suppression on the global cam map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.preprocess import Box, GridTransform


@dataclass(frozen=True)
class Region:
    """A selected crop: canonical full-resolution box and the cam value that chose it."""

    box: Box
    saliency: float


def _clamp_start(centre: float, size: int, extent: int) -> int:
    return int(min(max(round(centre - size / 2), 0), max(extent - size, 0)))


def cell_centres(cam_hw: tuple[int, int], t: GridTransform) -> tuple[np.ndarray, np.ndarray]:
    """Canonical full-resolution (row, col) centres of the cam cells (the cam spans the grid)."""
    cell_r = t.grid_hw[0] / cam_hw[0] * t.scale_rc[0]
    cell_c = t.grid_hw[1] / cam_hw[1] * t.scale_rc[1]
    rows = (np.arange(cam_hw[0]) + 0.5) * cell_r
    cols = (np.arange(cam_hw[1]) + 0.5) * cell_c
    return rows, cols


def select_regions(
    cam: np.ndarray, t: GridTransform, mask: np.ndarray, size: int, top_k: int
) -> list[Region]:
    """Greedy NMS: the highest cam cell in the breast gives a size x size box centred on it
    (clamped inside the image); cells whose centres fall in a chosen box are suppressed.

    Only cells whose centre lies in the image content and the breast mask are candidates. Ties go
    to the first cell in row-major order, so the choice is deterministic. May return fewer than
    top_k boxes when the breast is small.
    """
    rows, cols = cell_centres(cam.shape, t)
    f = t.factor
    inside_r = rows < t.covered_hw[0]
    inside_c = cols < t.covered_hw[1]
    mr = np.minimum((rows // f).astype(np.int64), mask.shape[0] - 1)
    mc = np.minimum((cols // f).astype(np.int64), mask.shape[1] - 1)
    valid = mask[np.ix_(mr, mc)] & inside_r[:, None] & inside_c[None, :]
    order = np.argsort(-cam.ravel(), kind="stable")
    height, width = t.image_hw
    regions: list[Region] = []
    for flat in order:
        if len(regions) == top_k:
            break
        i, j = divmod(int(flat), cam.shape[1])
        if not valid[i, j]:
            continue
        r0 = _clamp_start(rows[i], size, height)
        c0 = _clamp_start(cols[j], size, width)
        box = (r0, c0, min(r0 + size, height), min(c0 + size, width))
        regions.append(Region(box, float(cam[i, j])))
        in_r = (rows >= box[0]) & (rows < box[2])
        in_c = (cols >= box[1]) & (cols < box[3])
        valid &= ~(in_r[:, None] & in_c[None, :])
    return regions

"""The runtime's preprocessing, seen from training: every pixel operation comes from `inference`.

This module only adapts `inference.prepare` to what training needs: the global input and crops
exactly as the Analyzer builds them, plus the same geometry applied to lesion masks (labels).
"""

from __future__ import annotations

import numpy as np

from inference.manifest import ModelManifest
from inference.prepare import PreparedImage, canonical_region, crop_batch, prepare_image
from inference.preprocess import Box, GridTransform, resample_to, shrink_mean

__all__ = [
    "Box",
    "PreparedImage",
    "canonical_point",
    "crop_cover",
    "crops",
    "global_cover",
    "grid_cover",
    "prepare",
]


def prepare(
    values: np.ndarray, pixel_spacing_mm: float, laterality: str, manifest: ModelManifest
) -> PreparedImage:
    """The runtime's preparation of one image (mask, orientation, normalization, channels)."""
    return prepare_image(
        values.astype(np.float32, copy=False), manifest, pixel_spacing_mm, laterality
    )


def canonical_point(point_yx: tuple[float, float], t: GridTransform) -> tuple[float, float]:
    """An original-image (row, col) point in canonical coordinates (chest wall at column 0)."""
    y, x = point_yx
    return (y, t.image_hw[1] - 1 - x) if t.flipped else (y, x)


def global_cover(mask: np.ndarray, t: GridTransform, stride: int) -> np.ndarray:
    """Share of each global CAM cell covered by a full-resolution ORIGINAL-orientation mask.

    The mask goes through the runtime's own geometry (block mean by the shrink factor, resample
    to the content size, zero padding to the grid), then cells of ``stride`` grid pixels.
    """
    small = shrink_mean(mask.astype(np.float32), t.factor, t.flipped)
    content = np.clip(resample_to(small, t.content_hw), 0.0, 1.0)
    grid = np.zeros(t.grid_hw, np.float32)
    grid[: content.shape[0], : content.shape[1]] = content
    return grid_cover(grid, stride)


def grid_cover(mask: np.ndarray, stride: int) -> np.ndarray:
    """Mean of ``mask`` over stride x stride cells (float32 [h // stride, w // stride])."""
    h, w = mask.shape[0] // stride, mask.shape[1] // stride
    cells = mask[: h * stride, : w * stride].astype(np.float32).reshape(h, stride, w, stride)
    return cells.mean((1, 3))


def crop_cover(mask: np.ndarray, t: GridTransform, box: Box, stride: int) -> np.ndarray:
    """Share of each crop CAM cell covered by an ORIGINAL-orientation mask (canonical box)."""
    return grid_cover(canonical_region(mask.astype(np.float32), t, box), stride)


def crops(prep: PreparedImage, boxes: list[Box], manifest: ModelManifest) -> np.ndarray:
    """Full-resolution crops [K, C, S, S] of canonical boxes, exactly as the Analyzer makes them."""
    return crop_batch(prep, boxes, manifest)

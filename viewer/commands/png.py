"""The one PNG writer of the headless commands (SimpleITK's, which the app already ships)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_png(pixels: np.ndarray, path: Path) -> None:
    """8-bit gray (rows, cols) or RGB (rows, cols, 3) to PNG."""
    import SimpleITK as sitk  # noqa: N813  (imported here: `render --help` stays fast)

    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(
            f"PNG pixels: expected uint8 (rows, cols[, 3]), got {pixels.dtype} {pixels.shape}"
        )
    image = sitk.GetImageFromArray(np.ascontiguousarray(pixels), isVector=pixels.ndim == 3)
    sitk.WriteImage(image, str(path))

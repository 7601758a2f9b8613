"""The model inputs of one image: the global grid tensor and the full-resolution crop batch."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from inference.errors import InputImageError
from inference.manifest import ChannelKind, ChannelSpec, ModelManifest
from inference.preprocess import (
    Box,
    GridTransform,
    breast_range,
    content_size,
    gaussian,
    highpass_value,
    intensity_value,
    is_flipped,
    max_to,
    resample_to,
    sample_bilinear,
    segment_breast,
    shrink,
)


@dataclass(frozen=True, eq=False)
class PreparedImage:
    """One image made ready for the models; keeps what the crop stage needs."""

    values: np.ndarray
    pixel_spacing_mm: float
    transform: GridTransform
    mask: np.ndarray
    value_range: tuple[float, float]
    global_input: np.ndarray
    background: np.ndarray | None = None

    def parameters(self) -> dict[str, object]:
        """Preprocessing parameters for provenance."""
        t = self.transform
        return {
            "flipped": t.flipped,
            "shrink_factor": t.factor,
            "covered_hw": list(t.covered_hw),
            "content_hw": list(t.content_hw),
            "grid_hw": list(t.grid_hw),
            "value_low": self.value_range[0],
            "value_high": self.value_range[1],
            "breast_fraction": round(float(self.mask.mean()), 6),
            "pixel_spacing_mm": self.pixel_spacing_mm,
        }


def breast_background(image: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian background from breast pixels only: G(x * m) / G(m) (normalized convolution).

    Keeps the skin line from looking like a bright speck in the highpass channel.
    """
    weight = mask.astype(np.float32)
    # The two blurs run side by side (SimpleITK releases the GIL); results are bit-identical.
    norm: list[np.ndarray] = []
    helper = threading.Thread(target=lambda: norm.append(gaussian(weight, sigma_px)))
    helper.start()
    blurred = gaussian(image * weight, sigma_px)
    helper.join()
    return blurred / np.maximum(norm[0], np.float32(1e-6))


def _transform(values: np.ndarray, laterality: str, grid_hw: tuple[int, int]) -> GridTransform:
    rows, cols = values.shape
    ratio = max(rows / grid_hw[0], cols / grid_hw[1])
    factor = max(1, math.floor(ratio))
    covered = ((rows // factor) * factor, (cols // factor) * factor)
    probe = values[:: max(1, rows // 64), :: max(1, cols // 64)]
    flipped = is_flipped(laterality, probe)
    content = content_size(covered, factor, grid_hw)
    return GridTransform((rows, cols), flipped, factor, covered, content, grid_hw)


def _check_values(values: np.ndarray, pixel_spacing_mm: float) -> None:
    if values.ndim != 2 or values.dtype != np.float32:
        raise InputImageError(
            f"values: dtype {values.dtype} shape {values.shape}: expected float32 (rows, cols)"
        )
    if min(values.shape) < 16:
        raise InputImageError(f"values: shape {values.shape}: expected at least 16 x 16 pixels")
    if not (pixel_spacing_mm > 0 and math.isfinite(pixel_spacing_mm)):
        raise InputImageError(f"pixel_spacing_mm = {pixel_spacing_mm}: expected a positive number")
    if not np.isfinite(values[::7, ::7]).all():
        raise InputImageError("values: contains NaN or infinity: expected finite modality values")


def prepare_image(
    values: np.ndarray,
    manifest: ModelManifest,
    pixel_spacing_mm: float,
    laterality: str,
    timings: dict[str, float] | None = None,
) -> PreparedImage:
    """Mask, orientation, normalization and every channel of the global input [1, C, H, W].

    `timings`, when given, receives the milliseconds of "segmentation" (shrink + mask).
    """
    start = time.perf_counter()
    _check_values(values, pixel_spacing_mm)
    t = _transform(values, laterality, manifest.global_model.height_width)
    wants_max = any(c.kind is ChannelKind.HIGHPASS_MAX for c in manifest.channels)
    small, small_max = shrink(values, t.factor, t.flipped, with_max=wants_max)
    mask = segment_breast(small)
    if timings is not None:
        timings["segmentation"] = round((time.perf_counter() - start) * 1000, 3)
    value_range = breast_range(small, mask, manifest.normalization)
    grid_mask = np.zeros(t.grid_hw, bool)
    grid_mask[: t.content_hw[0], : t.content_hw[1]] = (
        resample_to(mask.astype(np.float32), t.content_hw) >= 0.5
    )
    background = _background(small, mask, manifest, pixel_spacing_mm, t.factor)
    channels = []
    for spec in manifest.channels:
        if spec.kind is ChannelKind.INTENSITY:
            grid = _pad(resample_to(small, t.content_hw), t.grid_hw)
            channels.append(intensity_value(grid, manifest.normalization, value_range, grid_mask))
        else:
            assert background is not None and small_max is not None
            peak = max_to(small_max, t.content_hw)
            hp = peak - resample_to(background, t.content_hw)
            plane = _pad(highpass_value(hp, spec, value_range), t.grid_hw)
            plane[~grid_mask] = 0
            channels.append(plane)
    tensor = np.stack(channels)[None].astype(np.float32)
    return PreparedImage(values, pixel_spacing_mm, t, mask, value_range, tensor, background)


def _background(
    small: np.ndarray, mask: np.ndarray, manifest: ModelManifest, spacing: float, factor: int
) -> np.ndarray | None:
    """The breast background of the highpass channel, on the shrunk image (None if unused)."""
    for spec in manifest.channels:
        if spec.kind is ChannelKind.HIGHPASS_MAX:
            return breast_background(small, mask, float(spec.sigma_mm or 0) / spacing / factor)
    return None


def _pad(content: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    out = np.zeros(grid_hw, np.float32)
    out[: content.shape[0], : content.shape[1]] = content
    return out


def canonical_region(values: np.ndarray, t: GridTransform, box: Box) -> np.ndarray:
    """Pixels of a canonical box, in canonical orientation (a copy)."""
    r0, c0, r1, c1 = box
    o0, o1 = (t.image_hw[1] - c1, t.image_hw[1] - c0) if t.flipped else (c0, c1)
    region = values[r0:r1, o0:o1]
    return np.array(region[:, ::-1] if t.flipped else region, dtype=np.float32)


def _region_mask(prep: PreparedImage, box: Box) -> np.ndarray:
    f = prep.transform.factor
    rows = np.minimum(np.arange(box[0], box[2]) // f, prep.mask.shape[0] - 1)
    cols = np.minimum(np.arange(box[1], box[3]) // f, prep.mask.shape[1] - 1)
    return prep.mask[np.ix_(rows, cols)]


def _crop_highpass(prep: PreparedImage, box: Box, spec: ChannelSpec) -> np.ndarray:
    """Full-resolution pixels minus the breast background interpolated at their centres."""
    assert prep.background is not None
    f = prep.transform.factor
    rows = (np.arange(box[0], box[2]) + 0.5) / f - 0.5
    cols = (np.arange(box[1], box[3]) + 0.5) / f - 0.5
    background = sample_bilinear(prep.background, rows, cols)
    region = canonical_region(prep.values, prep.transform, box)
    return highpass_value(region - background, spec, prep.value_range)


def crop_batch(
    prep: PreparedImage, boxes: list[Box], manifest: ModelManifest, batch: int | None = None
) -> np.ndarray:
    """[max(K, batch), C, S, S] crops of the canonical boxes; boxes smaller than S are padded
    with the background value (what pixels outside the breast get)."""
    if not boxes:
        raise InputImageError("no crop boxes: the breast mask left no candidate region")
    size = manifest.crop_size
    count = max(len(boxes), batch or 0)
    out = np.zeros((count, len(manifest.channels), size, size), np.float32)
    norm = manifest.normalization
    for channel, spec in enumerate(manifest.channels):
        if spec.kind is ChannelKind.INTENSITY:  # padding looks like background, as on the grid
            out[:, channel] = np.float32((0 - norm.mean) / norm.std)
    for index, box in enumerate(boxes):
        mask = _region_mask(prep, box)
        h, w = box[2] - box[0], box[3] - box[1]
        for channel, spec in enumerate(manifest.channels):
            if spec.kind is ChannelKind.INTENSITY:
                region = canonical_region(prep.values, prep.transform, box)
                plane = intensity_value(region, manifest.normalization, prep.value_range, mask)
            else:
                plane = _crop_highpass(prep, box, spec)
                plane[~mask] = 0
            out[index, channel, :h, :w] = plane
    return out

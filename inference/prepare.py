"""The model inputs of one image: the global grid tensor and the full-resolution crop batch."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the usual alias)

from inference.errors import InputImageError
from inference.manifest import ChannelKind, ChannelSpec, ModelManifest
from inference.preprocess import (
    Box,
    GridTransform,
    breast_range,
    content_size,
    highpass_value,
    intensity_value,
    is_flipped,
    max_to,
    resample_to,
    segment_breast,
    shrink_max,
    shrink_mean,
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


def _gaussian(image: np.ndarray, sigma_px: float) -> np.ndarray:
    itk = sitk.GetImageFromArray(image.astype(np.float32, copy=False))
    return sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(itk, float(sigma_px)))


def breast_background(image: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian background from breast pixels only: G(x * m) / G(m) (normalized convolution).

    Keeps the skin line from looking like a bright speck in the highpass channel.
    """
    weight = mask.astype(np.float32)
    blurred = _gaussian(image * weight, sigma_px)
    norm = _gaussian(weight, sigma_px)
    return blurred / np.maximum(norm, np.float32(1e-6))


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
    small = shrink_mean(values, t.factor, t.flipped)
    mask = segment_breast(small)
    if timings is not None:
        timings["segmentation"] = round((time.perf_counter() - start) * 1000, 3)
    value_range = breast_range(small, mask, manifest.normalization)
    grid_mask = np.zeros(t.grid_hw, bool)
    grid_mask[: t.content_hw[0], : t.content_hw[1]] = (
        resample_to(mask.astype(np.float32), t.content_hw) >= 0.5
    )
    channels = []
    for spec in manifest.channels:
        if spec.kind is ChannelKind.INTENSITY:
            grid = _pad(resample_to(small, t.content_hw), t.grid_hw)
            channels.append(intensity_value(grid, manifest.normalization, value_range, grid_mask))
        else:
            channels.append(
                _global_highpass(
                    values, small, mask, t, spec, pixel_spacing_mm, value_range, grid_mask
                )
            )
    tensor = np.stack(channels)[None].astype(np.float32)
    return PreparedImage(values, pixel_spacing_mm, t, mask, value_range, tensor)


def _pad(content: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    out = np.zeros(grid_hw, np.float32)
    out[: content.shape[0], : content.shape[1]] = content
    return out


def _global_highpass(
    values: np.ndarray,
    small: np.ndarray,
    mask: np.ndarray,
    t: GridTransform,
    spec: ChannelSpec,
    spacing: float,
    value_range: tuple[float, float],
    grid_mask: np.ndarray,
) -> np.ndarray:
    """Per cell: brightest full-resolution pixel minus the Gaussian background at the cell."""
    sigma_px = float(spec.sigma_mm or 0) / spacing
    peak = max_to(shrink_max(values, t.factor, t.flipped), t.content_hw)
    background = resample_to(breast_background(small, mask, sigma_px / t.factor), t.content_hw)
    hp = _pad(highpass_value(peak - background, spec, value_range), t.grid_hw)
    hp[~grid_mask] = 0
    return hp


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
    """x - breast background at full resolution, computed on the crop plus a 3-sigma margin."""
    sigma_px = float(spec.sigma_mm or 0) / prep.pixel_spacing_mm
    margin = math.ceil(3 * sigma_px)
    rows, cols = prep.transform.image_hw
    outer = (
        max(0, box[0] - margin),
        max(0, box[1] - margin),
        min(rows, box[2] + margin),
        min(cols, box[3] + margin),
    )
    region = canonical_region(prep.values, prep.transform, outer)
    hp = region - breast_background(region, _region_mask(prep, outer), sigma_px)
    r, c = box[0] - outer[0], box[1] - outer[1]
    inner = hp[r : r + box[2] - box[0], c : c + box[3] - box[1]]
    return highpass_value(inner, spec, prep.value_range)


def crop_batch(
    prep: PreparedImage, boxes: list[Box], manifest: ModelManifest, batch: int | None = None
) -> np.ndarray:
    """[max(K, batch), C, S, S] crops of the canonical boxes; boxes smaller than S are 0-padded."""
    if not boxes:
        raise InputImageError("no crop boxes: the breast mask left no candidate region")
    size = manifest.crop_size
    count = max(len(boxes), batch or 0)
    out = np.zeros((count, len(manifest.channels), size, size), np.float32)
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

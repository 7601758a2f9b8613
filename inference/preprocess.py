"""Modality values to model input: breast mask, canonical orientation, normalization, channels.

The training pipeline calls these same functions, so runtime and training never drift apart.
Everything is defined in MODEL_FORMAT.md; the definitions below are the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the usual alias)

from inference.errors import InputImageError
from inference.manifest import ChannelSpec, Normalization

Box = tuple[int, int, int, int]

# SimpleITK filters run single-threaded: the input's sha256 runs on another core meanwhile, and on
# a loaded 2-core desktop one thread was faster than two for every filter used here.
SITK_THREADS = 1


def run_filter(item: sitk.ImageFilter, *images: sitk.Image) -> sitk.Image:
    """Execute a SimpleITK filter object with SITK_THREADS threads."""
    item.SetNumberOfThreads(SITK_THREADS)
    result: sitk.Image = item.Execute(*images)  # type: ignore[attr-defined]  # every filter has it
    return result


def gaussian(image: np.ndarray, sigma_px: float | list[float]) -> np.ndarray:
    """SimpleITK recursive Gaussian (pixel units) of a float32 array."""
    smooth = sitk.SmoothingRecursiveGaussianImageFilter()
    smooth.SetSigma(sigma_px if isinstance(sigma_px, list) else [float(sigma_px)] * image.ndim)
    itk = sitk.GetImageFromArray(image.astype(np.float32, copy=False))
    return sitk.GetArrayFromImage(run_filter(smooth, itk))


@dataclass(frozen=True)
class GridTransform:
    """Where the model grid sits in the image.

    The canonical image is the original flipped left-right when `flipped`. Its top-left
    `covered_hw` pixels (the whole image but for fewer than `factor` rows/columns at the bottom
    and at the side away from the chest wall) are shrunk by `factor` (block mean) and resampled to
    `content_hw`, placed at the grid's top-left; the rest of the grid is padding (zero).
    """

    image_hw: tuple[int, int]
    flipped: bool
    factor: int
    covered_hw: tuple[int, int]
    content_hw: tuple[int, int]
    grid_hw: tuple[int, int]

    @property
    def scale_rc(self) -> tuple[float, float]:
        """Canonical full-resolution pixels per grid pixel, (rows, cols)."""
        return (self.covered_hw[0] / self.content_hw[0], self.covered_hw[1] / self.content_hw[1])

    def to_original_box(self, box: Box) -> Box:
        """Map a half-open canonical box (row0, col0, row1, col1) to original image pixels."""
        r0, c0, r1, c1 = box
        if not self.flipped:
            return box
        width = self.image_hw[1]
        return (r0, width - c1, r1, width - c0)


def is_flipped(laterality: str, small: np.ndarray | None = None) -> bool:
    """Canonical orientation puts the chest wall at column 0: right breasts (R) are flipped.

    With no laterality the side with more bright tissue in its outer tenth is taken as the chest
    wall (needs `small`, any downsampled copy of the image in original orientation).
    """
    side = laterality.strip().upper()
    if side in ("L", "R"):
        return side == "R"
    if small is None or small.shape[1] < 10:
        return False
    tenth = max(1, small.shape[1] // 10)
    return float(small[:, -tenth:].mean()) > float(small[:, :tenth].mean())


_CHUNK_BLOCK_ROWS = 16  # block rows per pass: keeps the strided reads in cache


def _canonical_view(values: np.ndarray, factor: int, flipped: bool) -> np.ndarray:
    """The covered part of the original array (no copy).

    For a flipped image the partial block column is the original's leftmost one and is dropped,
    like the bottom partial block row.
    """
    rows, cols = values.shape
    nr, nc = rows // factor, cols // factor
    start = cols - nc * factor if flipped else 0
    return values[: nr * factor, start : start + nc * factor]


def _reduce_rows(chunk: np.ndarray, factor: int, ufunc: np.ufunc) -> np.ndarray:
    """Reduce factor x factor blocks of a (k * factor, n * factor) chunk to (k, n)."""
    blocks = chunk.reshape(chunk.shape[0] // factor, factor, chunk.shape[1])
    acc = blocks[:, 0].astype(np.float32)
    for i in range(1, factor):
        ufunc(acc, blocks[:, i], out=acc)
    columns = acc.reshape(acc.shape[0], acc.shape[1] // factor, factor)
    out = columns[:, :, 0].copy()
    for i in range(1, factor):
        ufunc(out, columns[:, :, i], out=out)
    return out


def shrink(
    values: np.ndarray, factor: int, flipped: bool, with_max: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Canonical block mean (anti-aliased integer downsample, SimpleITK BinShrink semantics) and,
    if asked, block maximum (so tiny bright specks survive), in one pass over the image.
    """
    view = _canonical_view(values, factor, flipped)
    nr, nc = view.shape[0] // factor, view.shape[1] // factor
    mean = np.empty((nr, nc), np.float32)
    peak = np.empty((nr, nc), np.float32) if with_max else None
    step = _CHUNK_BLOCK_ROWS
    for r in range(0, nr, step):
        chunk = view[r * factor : (r + step) * factor]
        mean[r : r + step] = _reduce_rows(chunk, factor, np.add)
        if peak is not None:
            peak[r : r + step] = _reduce_rows(chunk, factor, np.maximum)
    mean *= np.float32(1.0 / (factor * factor))
    if flipped:
        mean = np.ascontiguousarray(mean[:, ::-1])
        peak = None if peak is None else np.ascontiguousarray(peak[:, ::-1])
    return mean, peak


def shrink_mean(values: np.ndarray, factor: int, flipped: bool) -> np.ndarray:
    """Canonical block mean (see `shrink`)."""
    return shrink(values, factor, flipped)[0]


def shrink_max(values: np.ndarray, factor: int, flipped: bool) -> np.ndarray:
    """Canonical block maximum (see `shrink`)."""
    peak = shrink(values, factor, flipped, with_max=True)[1]
    assert peak is not None
    return peak


def otsu_threshold(sample: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold on a `bins`-bin histogram over the sample's value range (numpy)."""
    low, high = float(sample.min()), float(sample.max())
    if not high > low:
        return low
    hist, edges = np.histogram(sample, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist, dtype=np.float64)
    weight1 = weight0[-1] - weight0
    mass0 = np.cumsum(hist * centres)
    mean0 = mass0 / np.maximum(weight0, 1)
    mean1 = (mass0[-1] - mass0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])


def segment_breast(small: np.ndarray) -> np.ndarray:
    """Breast mask of a downsampled image: threshold, largest connected component, holes filled.

    Otsu's threshold and the background level (median below it) come from every second pixel;
    the final threshold is halfway between them, so faint skin-line tissue stays in. Burned-in
    labels and markers are separate components and fall out with the largest-component rule.
    Holes are below-threshold components that do not touch the image border.
    """
    sample = small[::2, ::2]
    threshold = otsu_threshold(sample)
    below = sample[sample <= threshold]
    background = float(np.median(below)) if below.size else threshold
    binary = (small > (background + threshold) / 2).astype(np.uint8)
    largest = _components(binary, largest_only=True)
    mask = largest | _components((~largest).astype(np.uint8), largest_only=False)
    if not mask.any():
        raise InputImageError("no breast found: the image has no region brighter than background")
    return mask


def _components(binary: np.ndarray, largest_only: bool) -> np.ndarray:
    """The largest 8-connected component, or every component not touching the border."""
    labels_image = run_filter(sitk.ConnectedComponentImageFilter(), sitk.GetImageFromArray(binary))
    labels = sitk.GetArrayFromImage(labels_image)
    if largest_only:
        counts = np.bincount(labels.ravel())
        counts[0] = 0
        return labels == int(np.argmax(counts)) if counts.any() else np.zeros(binary.shape, bool)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return (labels > 0) & ~np.isin(labels, border)


def sample_bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of `image` at the grid rows x cols (pixel-centre coordinates, clamped)."""

    def taps(coords: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = np.clip(coords, 0, n - 1)
        left = np.minimum(np.floor(c).astype(np.int64), max(n - 2, 0))
        frac = (c - left).astype(np.float32)
        return left, np.minimum(left + 1, n - 1), frac

    top, bottom, fy = taps(rows, image.shape[0])
    left, right, fx = taps(cols, image.shape[1])
    band = image[top] * (1 - fy)[:, None] + image[bottom] * fy[:, None]
    return (band[:, left] * (1 - fx) + band[:, right] * fx).astype(np.float32)


def breast_range(small: np.ndarray, mask: np.ndarray, norm: Normalization) -> tuple[float, float]:
    """Modality values at the low/high percentiles of the block-mean image inside the breast."""
    inside = small[mask]
    low, high = np.percentile(inside, [norm.low_percentile, norm.high_percentile])
    if not high > low:
        high = low + 1.0
    return float(low), float(high)


def content_size(
    covered_hw: tuple[int, int], factor: int, grid_hw: tuple[int, int]
) -> tuple[int, int]:
    """Size the shrunk image takes on the grid: aspect kept, as large as fits."""
    rows, cols = covered_hw[0] / factor, covered_hw[1] / factor
    scale = min(grid_hw[0] / rows, grid_hw[1] / cols)
    return (
        max(1, min(grid_hw[0], round(rows * scale))),
        max(1, min(grid_hw[1], round(cols * scale))),
    )


def resample_to(small: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Linear resampling, pixel areas aligned (SimpleITK); Gaussian pre-smoothing if shrinking."""
    if small.shape == out_hw:
        return small.astype(np.float32, copy=True)
    ratio = (small.shape[1] / out_hw[1], small.shape[0] / out_hw[0])  # (x, y) as SimpleITK orders
    if max(ratio) > 1:
        small = gaussian(small, [max((r - 1) / 2, 1e-3) for r in ratio])
    image = sitk.GetImageFromArray(small.astype(np.float32, copy=False))
    resampler = sitk.ResampleImageFilter()
    resampler.SetSize([int(out_hw[1]), int(out_hw[0])])
    resampler.SetOutputSpacing(ratio)
    resampler.SetOutputOrigin([(r - 1) / 2 for r in ratio])
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetUseNearestNeighborExtrapolator(True)
    return sitk.GetArrayFromImage(run_filter(resampler, image)).astype(np.float32)


def max_to(small: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Max pooling onto a grid of out_hw cells (cell edges at floor(i * n_in / n_out))."""
    if small.shape == out_hw:
        return small.astype(np.float32, copy=True)
    row_edges = np.floor(np.arange(out_hw[0]) * small.shape[0] / out_hw[0]).astype(np.int64)
    col_edges = np.floor(np.arange(out_hw[1]) * small.shape[1] / out_hw[1]).astype(np.int64)
    pooled = np.maximum.reduceat(small, row_edges, axis=0)
    return np.maximum.reduceat(pooled, col_edges, axis=1).astype(np.float32)


def highpass_value(
    hp: np.ndarray, spec: ChannelSpec, value_range: tuple[float, float]
) -> np.ndarray:
    """Normalized highpass: clip(hp / (high - low), 0) * scale, then capped at clip_max if given."""
    low, high = value_range
    out = np.maximum(hp, 0) * np.float32(spec.scale / (high - low))
    if spec.clip_max is not None:
        np.minimum(out, np.float32(spec.clip_max), out=out)
    return out.astype(np.float32)


def intensity_value(
    x: np.ndarray, norm: Normalization, value_range: tuple[float, float], mask: np.ndarray
) -> np.ndarray:
    """(x - low) / (high - low), 0 outside the breast, then (v - mean) / std."""
    low, high = value_range
    out = (x - np.float32(low)) * np.float32(1.0 / (high - low))
    out[~mask] = 0
    if norm.mean != 0 or norm.std != 1:
        out = (out - np.float32(norm.mean)) / np.float32(norm.std)
    return out.astype(np.float32)

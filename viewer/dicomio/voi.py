"""VOI and presentation: window / VOI LUT / SIGMOID, MONOCHROME1 and INVERSE, to 8-bit display.

8-bit scaling (the reference for tests): a window maps modality values to the unit interval by
PS3.3 C.11.2.1.2 (pydicom's `apply_windowing` output `y` divided into its range
`(y - y_min) / (y_max - y_min)`), a VOI LUT divides its entry by `2**bits - 1`; display value =
`rint(255 * unit)`, then `255 - value` when inverted (MONOCHROME1 or Presentation LUT Shape
INVERSE, exclusive-or the user's invert).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewer.dicomio.attributes import VoiFunction, VoiWindow
from viewer.dicomio.errors import InvalidAttributeError, PixelDataSizeError, tag_label
from viewer.dicomio.header import ImageHeader
from viewer.dicomio.pixels import ModalityImage, stored_to_modality_array

MAX_LUT_ENTRIES = 1 << 24
AUTO_EXPLANATION = "AUTO (breast histogram)"


@dataclass(frozen=True)
class VoiSetting:
    """The VOI in use: a window, or the index of one of the file's VOI LUTs (exactly one)."""

    window: VoiWindow | None = None
    lut_index: int | None = None

    def __post_init__(self) -> None:
        if (self.window is None) == (self.lut_index is None):
            raise ValueError(
                f"VoiSetting needs exactly one of window / lut_index, got window={self.window!r}"
                f" lut_index={self.lut_index!r}"
            )


def default_voi(image: ModalityImage) -> VoiSetting:
    """The file's first window, else its first VOI LUT, else the automatic breast window."""
    header = image.header
    if header.windows:
        return VoiSetting(window=header.windows[0])
    if header.voi_luts:
        return VoiSetting(lut_index=0)
    return VoiSetting(window=auto_window(image))


def presentation_inverted(header: ImageHeader, invert: bool = False) -> bool:
    """Whether the displayed gray scale is flipped: MONOCHROME1 or INVERSE, xor user invert."""
    flipped = header.is_monochrome1 or header.presentation_lut_shape == "INVERSE"
    return flipped != bool(invert)


def voi_unit(values: np.ndarray, header: ImageHeader, voi: VoiSetting) -> np.ndarray:
    """Modality values -> [0, 1] by the window function or the VOI LUT (float64)."""
    x = np.asarray(values, dtype=np.float64)
    if voi.window is None:
        lut = header.voi_luts[int(voi.lut_index or 0)]
        index = np.clip(np.floor(x - lut.first_mapped), 0, len(lut.lut) - 1).astype(np.int64)
        return lut.lut[index] / float(2**lut.bits - 1)
    window = voi.window
    center, width = window.center, window.width
    if window.function is VoiFunction.SIGMOID:
        return 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    if window.function is VoiFunction.LINEAR:
        center, width = center - 0.5, width - 1.0
    if width <= 0:
        return (x > center).astype(np.float64)
    unit = (x - center) / width + 0.5
    unit[x <= center - width / 2] = 0.0
    unit[x > center + width / 2] = 1.0
    return unit


def to_8bit(unit: np.ndarray, inverted: bool) -> np.ndarray:
    """Unit interval -> uint8 display values (rounded), flipped when `inverted`."""
    out = np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)
    return 255 - out if inverted else out


def stored_range(image: ModalityImage) -> tuple[int, int]:
    """Inclusive range of stored values a display LUT must cover."""
    dtype = image.stored.dtype
    if dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        return int(info.min), int(info.max)
    return int(image.stored.min()), int(image.stored.max())


def display_lut(
    image: ModalityImage, voi: VoiSetting, invert: bool = False
) -> tuple[int, np.ndarray]:
    """(offset, lut): display = lut[stored - offset], modality + VOI + presentation in one table.

    Covers every value of the stored dtype (8/16-bit) or the data's range (32-bit). For color
    images the table is the identity (flipped when `invert`), to apply per channel.
    """
    header = image.header
    if not header.is_grayscale:
        ramp = np.arange(256, dtype=np.uint8)
        return 0, ramp[::-1].copy() if invert else ramp
    if image.stored.dtype.kind == "f":
        raise InvalidAttributeError(
            header.path,
            "float pixel data has no display LUT (use render_display)",
            tag=tag_label(
                header.pixel_keyword,
                0x7FE00008 if header.pixel_keyword == "FloatPixelData" else 0x7FE00009,
            ),
            value=str(image.stored.dtype),
            expected="integer stored values",
        )
    low, high = stored_range(image)
    if high - low + 1 > MAX_LUT_ENTRIES:
        raise PixelDataSizeError(
            header.path,
            "stored value range too wide for a display LUT",
            value=f"{low}..{high}",
            expected=f"<= {MAX_LUT_ENTRIES} values",
        )
    inputs = np.arange(low, high + 1, dtype=np.int64)
    unit = voi_unit(stored_to_modality_array(header, inputs), header, voi)
    return low, to_8bit(unit, presentation_inverted(header, invert))


def render_display(
    image: ModalityImage, voi: VoiSetting, invert: bool = False, frame: int = 0
) -> np.ndarray:
    """Reference 1:1 rendering of one frame: uint8 (rows, cols), or (rows, cols, 3) RGB."""
    header = image.header
    stored = image.stored[frame]
    if not header.is_grayscale:
        return 255 - stored if invert else stored.copy()
    if stored.dtype.kind == "f":
        unit = voi_unit(image.values(frame), header, voi)
        return to_8bit(unit, presentation_inverted(header, invert))
    offset, lut = display_lut(image, voi, invert)
    return lut[lut_index(stored, offset)]


def lut_index(stored: np.ndarray, offset: int) -> np.ndarray:
    """`stored - offset` as an index array, without a 64-bit copy for 8/16-bit data."""
    if offset == 0:
        return stored
    if (
        stored.dtype.kind == "i"
        and stored.dtype.isnative
        and stored.dtype.itemsize <= 2
        and offset == np.iinfo(stored.dtype).min
    ):
        unsigned = np.dtype(f"u{stored.dtype.itemsize}")
        return stored.view(unsigned) ^ unsigned.type(1 << (8 * stored.dtype.itemsize - 1))
    return stored.astype(np.int64) - offset


def ai_input(image: ModalityImage, frame: int = 0) -> np.ndarray:
    """Modality values for the AI (float32), MONOCHROME1 flipped so dense tissue is bright.

    Color images give their luminance. The result may be the cached read-only array.
    """
    header = image.header
    values = image.values(frame)
    if values.ndim == 3:
        return (values @ np.asarray([0.299, 0.587, 0.114], np.float32)).astype(np.float32)
    if not header.is_monochrome1:
        return values
    low, high = _modality_range(header)
    return (np.float32(low + high) - values).astype(np.float32)


def _modality_range(header: ImageHeader) -> tuple[float, float]:
    if header.pixel_representation:
        low, high = -(2 ** (header.bits_stored - 1)), 2 ** (header.bits_stored - 1) - 1
    else:
        low, high = 0, 2**header.bits_stored - 1
    ends = stored_to_modality_array(header, np.asarray([low, high]))
    return float(ends.min()), float(ends.max())


def auto_window(image: ModalityImage, frame: int = 0) -> VoiWindow:
    """A LINEAR window over the 0.5-99.5 percentiles of the breast (background excluded).

    The background is the Otsu class holding the histogram's largest mode (air in a
    mammogram); if that leaves under 1 % of the pixels, all pixels are used. A spike of pixels
    at exactly the foreground's extreme value (burned-in text, saturation) is left out too.
    """
    stored = image.stored[frame]
    step = max(1, int(np.sqrt(stored.shape[0] * stored.shape[1] / 250_000)))
    sample = stored_to_modality_array(image.header, stored[::step, ::step]).astype(np.float64)
    if sample.ndim == 3:  # color: luminance
        sample = sample @ np.asarray([0.299, 0.587, 0.114])
    sample = sample.ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return VoiWindow(0.5, 1.0, AUTO_EXPLANATION)
    foreground = _drop_end_spikes(_foreground(sample))
    low, high = np.percentile(foreground, [0.5, 99.5])
    width = max(float(high - low), 1.0)
    return VoiWindow(float(low + high) / 2 + 0.5, width + 1.0, AUTO_EXPLANATION)


def _drop_end_spikes(values: np.ndarray) -> np.ndarray:
    """Leave out a spike at either extreme (burned-in text, saturation): >= 0.1 % of pixels at
    exactly the lowest or highest value say nothing about the tissue's range."""
    for extreme in (values.max(), values.min()):
        at_end = values == extreme
        if 0.001 * values.size <= np.count_nonzero(at_end) < 0.5 * values.size:
            values = values[~at_end]
    return values


def _foreground(sample: np.ndarray) -> np.ndarray:
    lo, hi = float(sample.min()), float(sample.max())
    if hi <= lo:
        return sample
    counts, edges = np.histogram(sample, bins=256, range=(lo, hi))
    threshold = _otsu(counts, edges)
    mode = 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])
    foreground = sample[sample > threshold] if mode <= threshold else sample[sample <= threshold]
    return foreground if foreground.size >= 0.01 * sample.size else sample


def _otsu(counts: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's threshold on a histogram (between-class variance maximised)."""
    centers = 0.5 * (edges[:-1] + edges[1:])
    weight = np.cumsum(counts).astype(np.float64)
    total = weight[-1]
    mean = np.cumsum(counts * centers)
    w0, w1 = weight[:-1], total - weight[:-1]
    valid = (w0 > 0) & (w1 > 0)
    m0 = np.divide(mean[:-1], w0, out=np.zeros_like(w0), where=valid)
    m1 = np.divide(mean[-1] - mean[:-1], w1, out=np.zeros_like(w1), where=valid)
    between = np.where(valid, w0 * w1 * (m0 - m1) ** 2, -1.0)
    return float(edges[int(np.argmax(between)) + 1])

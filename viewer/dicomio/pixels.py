"""Pixel data -> `ModalityImage`: stored values (frames, rows, cols[, 3]) plus lazy modality values.

Native little-endian data of the common layouts is read straight from the file into the array
(one read, no copy). Other native layouts are unpacked by pydicom in-process (no codec runs).
Compressed data goes to a `DecoderPool` (isolated processes) when one is given.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewer.dicomio.errors import DecodeError, DicomInputError, InvalidAttributeError, tag_label
from viewer.dicomio.header import ImageHeader, read_dataset, read_header

if TYPE_CHECKING:
    from viewer.dicomio.pool import DecoderPool


@dataclass(frozen=True, eq=False)
class ModalityImage:
    """Decoded stored values of one file with its header; modality values computed on demand.

    `stored` is read-only, shape (frames, rows, cols) for grayscale or (frames, rows, cols, 3)
    uint8 RGB for color. `values(frame)` is float32, read-only and cached (last frame asked).
    """

    header: ImageHeader
    stored: np.ndarray
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def frames(self) -> int:
        """Number of frames actually decoded."""
        return int(self.stored.shape[0])

    def values(self, frame: int = 0) -> np.ndarray:
        """Modality values of one frame (Rescale or Modality LUT applied), float32, cached."""
        with self._lock:
            cached = self._cache.get(frame)
            if cached is None:
                cached = stored_to_modality_array(self.header, self.stored[frame])
                cached.flags.writeable = False
                self._cache.clear()  # keep one frame: memory stays bounded on multi-frame
                self._cache[frame] = cached
            return cached

    def stored_to_modality(self, value: float) -> float:
        """One stored value -> its modality value (for the status bar)."""
        return float(stored_to_modality_array(self.header, np.asarray([value]))[0])


def stored_to_modality_array(header: ImageHeader, stored: np.ndarray) -> np.ndarray:
    """Rescale Slope/Intercept or the Modality LUT applied to stored values, as float32."""
    if not header.is_grayscale or header.is_float:
        return stored.astype(np.float32)
    mlut = header.modality_lut
    if mlut is not None:
        index = np.clip(stored.astype(np.int64) - mlut.first_mapped, 0, len(mlut.lut) - 1)
        return mlut.lut.astype(np.float32)[index]
    slope, intercept = header.rescale_slope, header.rescale_intercept
    values = stored.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def load_image(path: str | Path, pool: DecoderPool | None = None) -> ModalityImage:
    """Read, validate and decode one file; compressed data is decoded in `pool` when given."""
    header = read_header(path)
    return load_pixels(header, pool)


def load_pixels(header: ImageHeader, pool: DecoderPool | None = None) -> ModalityImage:
    """Decode the pixels of an already-read header (see `load_image`)."""
    if _fast_native(header):
        stored = _read_native(header)
    elif header.is_encapsulated and pool is not None:
        stored = pool.decode(header)
    else:
        stored = decode_in_process(header)
    stored = finish_pixels(header, stored)
    stored.flags.writeable = False
    return ModalityImage(header, stored)


def _fast_native(header: ImageHeader) -> bool:
    """Layouts read straight from the file: little-endian, byte-aligned, no sign extension."""
    if header.is_encapsulated or header.pixel_data_offset < 0 or not header.is_little_endian:
        return False
    if header.bits_allocated not in (8, 16, 32) or header.is_float:
        return False
    if header.samples_per_pixel == 3:
        return (
            header.photometric == "RGB"
            and header.planar_configuration == 0
            and (header.bits_allocated == 8)
        )
    return header.pixel_representation == 0 or header.bits_stored == header.bits_allocated


def _read_native(header: ImageHeader) -> np.ndarray:
    dtype = np.dtype(f"<{'i' if header.pixel_representation else 'u'}{header.bits_allocated // 8}")
    shape = (header.number_of_frames, *_sample_shape(header))
    count = int(np.prod(shape))
    with header.path.open("rb") as fp:
        fp.seek(header.pixel_data_offset)
        array = np.empty(count, dtype)
        got = fp.readinto(array.data.cast("B"))
    if got != array.nbytes:
        raise DecodeError(
            header.path,
            "pixel data is truncated",
            value=f"{got} bytes read",
            expected=f"{array.nbytes} bytes",
        )
    return array.reshape(shape)


def _sample_shape(header: ImageHeader) -> tuple[int, ...]:
    if header.samples_per_pixel == 3:
        return (header.rows, header.columns, 3)
    return (header.rows, header.columns)


def decode_in_process(header: ImageHeader) -> np.ndarray:
    """Decode with pydicom in this process (native layouts, or compressed without a pool)."""
    from viewer.dicomio.decode import decode_file

    return decode_file(header)


def finish_pixels(header: ImageHeader, array: np.ndarray) -> np.ndarray:
    """Frames axis always present; color made RGB uint8 (palette applied, 16-bit scaled)."""
    if array.ndim == len(_sample_shape(header)):
        array = array[np.newaxis]
    if not array.dtype.isnative:  # big endian files: native order for fast indexing
        array = array.astype(array.dtype.newbyteorder("="))
    if header.is_grayscale and array.dtype.kind == "u" and header.bits_stored < 8 * array.itemsize:
        _mask_unused_bits(array, header.bits_stored)
    if header.photometric == "PALETTE COLOR":
        array = _apply_palette(header, array)
    if array.ndim == 4 and array.dtype != np.uint8:
        shift = max(int(header.bits_stored) - 8, 0)
        array = np.clip(array >> shift if shift else array, 0, 255).astype(np.uint8)
    return array


def _mask_unused_bits(array: np.ndarray, bits_stored: int) -> None:
    """Clear bits above BitsStored (PS3.5 8.1.1: they are not part of the value; old files keep
    overlays there). Checked with max() first, so clean data costs one pass, not a write."""
    high = (1 << bits_stored) - 1
    if array.size and int(array.max()) > high:
        np.bitwise_and(array, array.dtype.type(high), out=array)


def _apply_palette(header: ImageHeader, array: np.ndarray) -> np.ndarray:
    from pydicom.pixels.processing import apply_color_lut

    try:
        rgb = apply_color_lut(array, read_dataset(header.path))
    except DicomInputError:
        raise
    except Exception as exc:
        raise InvalidAttributeError(
            header.path,
            f"palette cannot be applied ({exc})",
            tag=tag_label("RedPaletteColorLookupTableDescriptor", 0x00281101),
        ) from exc
    bits = 16 if rgb.dtype.itemsize > 1 and int(rgb.max(initial=0)) > 255 else 8
    return (rgb >> 8).astype(np.uint8) if bits == 16 else rgb.astype(np.uint8)

"""Decoding of one file's pixel data with pydicom's plugins, SimpleITK as the fallback.

Runs in a `DecoderPool` worker for compressed data (or in-process without a pool); returns
stored values, never rescaled and never inverted.
"""

from __future__ import annotations

import logging

import numpy as np

from viewer.dicomio.errors import DecodeError, DicomInputError
from viewer.dicomio.header import ImageHeader

log = logging.getLogger(__name__)


def decode_file(header: ImageHeader, use_pydicom: bool = True) -> np.ndarray:
    """Stored values of every frame as pydicom returns them (color as RGB).

    `use_pydicom=False` goes straight to the SimpleITK fallback (a test hook).
    """
    try:
        if not use_pydicom:
            raise RuntimeError("pydicom plugins skipped on request")
        return _decode_pydicom(header)
    except DicomInputError:
        raise
    except MemoryError as exc:
        raise DecodeError(
            header.path, "out of memory while decoding", value=header.transfer_syntax_uid
        ) from exc
    except Exception as first:
        if not header.is_encapsulated:
            raise DecodeError(
                header.path, f"pydicom cannot decode: {first}", value=header.transfer_syntax_uid
            ) from first
        try:
            return decode_simpleitk(header)
        except Exception as second:
            raise DecodeError(
                header.path,
                f"no decoder succeeded: pydicom: {first}; SimpleITK: {second}",
                value=header.transfer_syntax_uid,
                expected="a decodable transfer syntax",
            ) from second


def _decode_pydicom(header: ImageHeader) -> np.ndarray:
    import pydicom
    from pydicom.pixels import pixel_array

    try:
        return np.asarray(pixel_array(str(header.path)))
    except (pydicom.errors.InvalidDicomError, AttributeError, KeyError):
        ds = pydicom.dcmread(str(header.path), force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(header.transfer_syntax_uid)
        return np.asarray(ds.pixel_array)


def decode_simpleitk(header: ImageHeader) -> np.ndarray:
    """GDCM via SimpleITK, made back into stored values (checked against pydicom in the tests).

    GDCM applies Rescale Slope/Intercept and turns MONOCHROME1 into MONOCHROME2 by
    `2**BitsStored - 1 - stored`; both are undone here. (It refuses signed MONOCHROME1.)
    """
    import SimpleITK as sitk  # noqa: N813 (the name everyone uses)

    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileName(str(header.path))
    array = sitk.GetArrayFromImage(reader.Execute())
    if header.samples_per_pixel == 3:
        return array.astype(np.uint8)
    if array.ndim == 2:
        array = array[np.newaxis]
    values = array.astype(np.float64)
    values = (values - header.rescale_intercept) / header.rescale_slope
    if header.is_monochrome1 and not header.pixel_representation:
        values = (2**header.bits_stored - 1) - values
    kind = "i" if header.pixel_representation else "u"
    itemsize = max(header.bits_allocated // 8, 1)
    return np.rint(values).astype(f"{kind}{itemsize}")


def warm_up() -> None:
    """Import the decoding plugins now, so the first file does not pay for it."""
    import pydicom.pixels  # noqa: F401

    for name in ("openjpeg", "libjpeg", "rle"):
        try:
            __import__(name)
        except ImportError:
            log.debug("plugin %s not installed", name)

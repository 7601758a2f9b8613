"""Shared fixtures for dicomio tests: corpus folders (never downloaded) and a file writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.dicomio import DecoderPool

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def pydicom_data_folder() -> Path | None:
    """pydicom-data's folder (package `data_store`), without triggering any download."""
    try:
        import data_store
    except ImportError:
        return None
    folder = Path(data_store.__file__).parent / "data"
    return folder if folder.is_dir() else None


def make_dataset(pixels: np.ndarray, **attrs: Any) -> Dataset:
    """A minimal valid MG image (For Presentation) around `pixels` (rows, cols) or (f, r, c)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Test^Patient", "TEST1", "MG"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds["PixelData"].VR = "OB" if pixels.dtype.itemsize == 1 else "OW"
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def write_dataset(folder: Path, name: str, ds: Dataset) -> Path:
    """Save `ds` as a Part 10 file (enforce_file_format) and return its path."""
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def write_image(tmp_path: Path) -> Any:
    """write_image(pixels, name="x.dcm", **attrs) -> Path of a valid image file."""

    def write(pixels: np.ndarray, name: str = "image.dcm", **attrs: Any) -> Path:
        return write_dataset(tmp_path, name, make_dataset(pixels, **attrs))

    return write


@pytest.fixture(scope="module")
def pool() -> Iterator[DecoderPool]:
    """A small decoder pool shared by a module's tests."""
    with DecoderPool(workers=2, timeout_s=60) as decoder_pool:
        yield decoder_pool

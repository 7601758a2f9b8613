"""Small, valid DICOM files for GUI tests, written with pydicom (MG, 12-bit, MONOCHROME2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MG_STORAGE = (
    "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image Storage - For Presentation
)
PATIENT_NAME = "TESTPATIENT^ALICE"


def breast_pixels(rows: int = 240, cols: int = 200, chest_wall: str = "left", seed: int = 0):
    """A bright half-disc attached to one side, on a dark background, 12-bit, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    x0 = 0 if chest_wall == "left" else cols - 1
    inside = (yy - rows / 2) ** 2 / (rows / 2.2) ** 2 + (xx - x0) ** 2 / (cols * 0.8) ** 2 < 1
    pixels = np.where(inside, 2500, 200) + rng.integers(0, 400, (rows, cols))
    return pixels.astype(np.uint16)


def write_mg(
    path: Path,
    pixels: np.ndarray,
    *,
    laterality: str = "L",
    view: str = "CC",
    windows: tuple[tuple[float, float, str], ...] = ((1500.0, 3000.0, "STANDARD"),),
    lossy: bool = False,
    study_uid: str | None = None,
    instance: int = 1,
) -> Path:
    """Write an uncompressed MG image with the given stored pixels and window presets."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MG_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = MG_STORAGE, ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
        PATIENT_NAME, "TP-0001", "19650203", "F",
    )  # fmt: skip
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate, ds.StudyDescription, ds.AccessionNumber = "20260102", "Screening", "ACC-42"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MG", 1, instance
    ds.ImageLaterality, ds.ViewPosition = laterality, view
    ds.ImagerPixelSpacing = [0.07, 0.07]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.LossyImageCompression = "01" if lossy else "00"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
    if windows:
        ds.WindowCenter = [w[0] for w in windows]
        ds.WindowWidth = [w[1] for w in windows]
        ds.WindowCenterWidthExplanation = [w[2] for w in windows]
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_four_views(folder: Path) -> dict[str, Path]:
    """RCC, LCC, RMLO, LMLO of one study; right views stored with the chest wall on the left."""
    study = generate_uid()
    paths = {}
    for index, (laterality, view) in enumerate((("R", "CC"), ("L", "CC"), ("R", "MLO"),
                                               ("L", "MLO"))):  # fmt: skip
        pixels = breast_pixels(seed=index, chest_wall="left")
        name = f"{laterality}{view}"
        paths[name] = write_mg(
            folder / f"{name}.dcm", pixels, laterality=laterality, view=view,
            study_uid=study, instance=index + 1,
        )  # fmt: skip
    return paths

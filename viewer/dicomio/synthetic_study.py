"""The synthetic four-view demo study: DICOM files plus a ground-truth JSON beside them.

The four views carry between them every display feature the viewer must honour:
RCC  LINEAR window presets (three, with explanations), uncompressed, a mass;
LCC  SIGMOID VOI LUT function, JPEG 2000 lossless, a calcification cluster;
RMLO MONOCHROME1 (stored values inverted, Presentation LUT Shape INVERSE as the DX module
     requires, windows on the inverted scale), a mass;
LMLO burned-in text in the upper corner away from the chest wall (BurnedInAnnotation YES),
     a calcification cluster.
All images are synthetic; the patient is "SYNTHETIC^DEMO".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from viewer.dicomio.synthetic import generate_mammogram
from viewer.dicomio.synthetic_anatomy import STORED_MAX
from viewer.dicomio.synthetic_font import render_text
from viewer.dicomio.synthetic_types import DemoStudy, Lesion, LesionKind, SyntheticMammogram

MG_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.2")
TRUTH_NAME = "ground_truth.json"
PATIENT_NAME = "SYNTHETIC^DEMO"
SCHEMA = "mammolens-synthetic-truth/1"
TEXT_SCALE = 10
TEXT_MARGIN = 60
# SNOMED CT view codes (DICOM CID 4014) and the breast (CID 4031)
VIEW_CODES = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
BREAST_CODE = ("76752008", "Breast")
PATIENT_ORIENTATION = {
    ("L", "CC"): ["A", "R"],
    ("R", "CC"): ["P", "L"],
    ("L", "MLO"): ["A", "FR"],
    ("R", "MLO"): ["P", "FL"],
}


@dataclass(frozen=True)
class DemoView:
    """What one view of the demo study carries."""

    laterality: str
    view: str
    lesion: LesionKind
    monochrome1: bool = False
    sigmoid: bool = False
    jpeg2000: bool = False
    burned_in_text: bool = False

    @property
    def name(self) -> str:
        """File stem, e.g. "RCC"."""
        return f"{self.laterality}{self.view}"


DEMO_VIEWS = (
    DemoView("R", "CC", LesionKind.MASS),
    DemoView("L", "CC", LesionKind.CALCIFICATION_CLUSTER, sigmoid=True, jpeg2000=True),
    DemoView("R", "MLO", LesionKind.MASS, monochrome1=True),
    DemoView("L", "MLO", LesionKind.CALCIFICATION_CLUSTER, burned_in_text=True),
)


def demo_uid(seed: int, *parts: str) -> str:
    """A UID derived only from the seed and a label, so a rewritten study keeps its UIDs."""
    return str(generate_uid(entropy_srcs=["MammoLens synthetic demo", str(seed), *parts]))


def text_box(mammogram: SyntheticMammogram, lines: list[str]) -> tuple[int, int, int, int]:
    """(row0, col0, row1, col1) of the burned-in label: upper corner away from the chest wall."""
    height, width = render_text(lines, TEXT_SCALE).shape
    cols = mammogram.pixels.shape[1]
    col0 = cols - TEXT_MARGIN - width if mammogram.laterality == "L" else TEXT_MARGIN
    return TEXT_MARGIN, col0, TEXT_MARGIN + height, col0 + width


def burned_in_lines(spec: DemoView) -> list[str]:
    """The text burned into a view: view label, fake name, a reminder that it is synthetic."""
    return [f"{spec.laterality} {spec.view}", PATIENT_NAME, "SYNTHETIC IMAGE"]


def stored_pixels(mammogram: SyntheticMammogram, spec: DemoView) -> np.ndarray:
    """The stored values written for a view: burned-in text, then MONOCHROME1 inversion."""
    pixels = mammogram.pixels.copy()
    if spec.burned_in_text:
        lines = burned_in_lines(spec)
        r0, c0, r1, c1 = text_box(mammogram, lines)
        pixels[r0:r1, c0:c1][render_text(lines, TEXT_SCALE)] = STORED_MAX
    if spec.monochrome1:
        pixels = (STORED_MAX - pixels).astype(np.uint16)
    return pixels


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "SCT"
    item.CodeMeaning = meaning
    return item


def _windows(mammogram: SyntheticMammogram, spec: DemoView) -> tuple[list, list, list]:
    """Window presets from the breast histogram (on the stored scale of the view)."""
    breast = mammogram.pixels[::4, ::4][mammogram.breast_mask[::4, ::4]]
    p1, p50, p99 = (float(v) for v in np.percentile(breast, [1, 50, 99.5]))
    presets = [
        ((p1 + p99) / 2, p99 - p1, "BREAST TISSUE"),
        ((p50 + p99) / 2, (p99 - p50) * 1.2, "DENSE TISSUE DETAIL"),
        (STORED_MAX / 2 + 0.5, STORED_MAX + 1.0, "FULL RANGE"),
    ]
    if spec.sigmoid or spec.burned_in_text:
        presets = presets[:1]
    if spec.monochrome1:
        presets = [(STORED_MAX - c, w, e) for c, w, e in presets]
    centers = [round(c, 1) for c, _, _ in presets]
    widths = [round(max(w, 2.0), 1) for _, w, _ in presets]
    return centers, widths, [e for _, _, e in presets]


def _file_meta(sop_instance_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "MAMMOLENS_SYN1"
    return meta


def _patient_study_series(ds: Dataset, seed: int) -> None:
    ds.PatientName = PATIENT_NAME
    ds.PatientID = f"SYNTHETIC-{seed}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = demo_uid(seed, "study")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
    ds.AccessionNumber = f"SYN{seed}"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.StudyDescription = "SYNTHETIC MAMMOGRAPHY DEMO - NOT FOR CLINICAL USE"
    ds.SeriesInstanceUID = demo_uid(seed, "series")
    ds.SeriesNumber = 1
    ds.SeriesDescription = "Synthetic 4-view mammogram"
    ds.Modality = "MG"
    ds.Manufacturer = "MammoLens synthetic generator"
    ds.ManufacturerModelName = "viewer.dicomio.synthetic"
    ds.SoftwareVersions = "1"


def _mammography_modules(ds: Dataset, spec: DemoView, spacing_mm: float) -> None:
    ds.ImageLaterality = spec.laterality
    ds.ViewPosition = spec.view
    ds.PatientOrientation = PATIENT_ORIENTATION[(spec.laterality, spec.view)]
    view = _code_item(*VIEW_CODES[spec.view])
    view.ViewModifierCodeSequence = DicomSequence([])
    ds.ViewCodeSequence = DicomSequence([view])
    ds.AnatomicRegionSequence = DicomSequence([_code_item(*BREAST_CODE)])
    ds.BodyPartExamined = "BREAST"
    ds.OrganExposed = "BREAST"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.DetectorType = "DIRECT"
    ds.ImagerPixelSpacing = [spacing_mm, spacing_mm]
    ds.EstimatedRadiographicMagnificationFactor = 1.0
    ds.PartialView = "NO"
    ds.BreastImplantPresent = "NO"
    ds.QualityControlImage = "NO"


def _image_pixel_modules(
    ds: Dataset, mammogram: SyntheticMammogram, spec: DemoView, stored: np.ndarray
) -> None:
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BurnedInAnnotation = "YES" if spec.burned_in_text else "NO"
    ds.LossyImageCompression = "00"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if spec.monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.PixelIntensityRelationship = "LOG"
    # +1: lower values mean less X-ray intensity (MONOCHROME1 here); -1: higher values do
    ds.PixelIntensityRelationshipSign = 1 if spec.monochrome1 else -1
    ds.PresentationLUTShape = "INVERSE" if spec.monochrome1 else "IDENTITY"
    centers, widths, explanations = _windows(mammogram, spec)
    ds.WindowCenter, ds.WindowWidth = centers, widths
    ds.WindowCenterWidthExplanation = explanations
    ds.VOILUTFunction = "SIGMOID" if spec.sigmoid else "LINEAR"
    ds.PixelData = stored.astype("<u2").tobytes()
    ds["PixelData"].VR = "OW"


def build_dataset(
    seed: int, spec: DemoView, instance: int, mammogram: SyntheticMammogram
) -> Dataset:
    """The DICOM dataset of one demo view (JPEG 2000 lossless already applied if asked)."""
    sop_instance_uid = demo_uid(seed, "image", spec.name)
    ds = Dataset()
    ds.file_meta = _file_meta(sop_instance_uid)
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_instance_uid
    _patient_study_series(ds, seed)
    ds.InstanceNumber = instance
    _mammography_modules(ds, spec, mammogram.pixel_spacing_mm)
    stored = stored_pixels(mammogram, spec)
    _image_pixel_modules(ds, mammogram, spec, stored)
    if spec.jpeg2000:
        ds.compress(JPEG2000Lossless, stored, generate_instance_uid=False)
    return ds


def _lesion_truth(lesion: Lesion, spacing_mm: float) -> dict[str, object]:
    def pts(points: tuple[tuple[float, float], ...]) -> list[list[float]]:
        return [[round(y, 2), round(x, 2)] for y, x in points]

    truth: dict[str, object] = {
        "type": lesion.kind.value,
        "shape": lesion.shape,
        "center_yx_px": pts((lesion.center_yx,))[0],
        "center_yx_mm": [round(v * spacing_mm, 3) for v in lesion.center_yx],
        "diameter_mm": round(lesion.size_mm, 3),
        "diameter_px": round(2 * lesion.radius_px, 2),
        "radius_px": round(lesion.radius_px, 3),
        "outline_yx_px": pts(lesion.outline_yx),
        "contrast_z": round(lesion.contrast, 3),
        "contrast_z_downsampled_8x": round(lesion.contrast_8x, 3),
    }
    if lesion.specks_yx:
        truth["specks"] = [
            {"center_yx_px": p, "diameter_mm": round(d, 3)}
            for p, d in zip(pts(lesion.specks_yx), lesion.speck_diameters_mm, strict=True)
        ]
    return truth


def _view_truth(
    spec: DemoView, ds: Dataset, mammogram: SyntheticMammogram, path: Path, seed: int
) -> dict[str, object]:
    lines = burned_in_lines(spec) if spec.burned_in_text else []
    return {
        "file": path.name,
        "size_bytes": path.stat().st_size,
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "laterality": spec.laterality,
        "view": spec.view,
        "patient_orientation": list(ds.PatientOrientation),
        "photometric_interpretation": str(ds.PhotometricInterpretation),
        "transfer_syntax_uid": str(ds.file_meta.TransferSyntaxUID),
        "voi_lut_function": str(ds.VOILUTFunction),
        "generator": {
            "seed": seed,
            "laterality": spec.laterality,
            "view": spec.view,
            "shape": list(mammogram.pixels.shape),
            "pixel_spacing_mm": mammogram.pixel_spacing_mm,
            "lesions": [spec.lesion.value],
        },
        "burned_in_text": lines,
        "burned_in_text_box": list(text_box(mammogram, lines)) if lines else None,
        "lesions": [_lesion_truth(x, mammogram.pixel_spacing_mm) for x in mammogram.lesions],
    }


def _atomic_write(path: Path, ds: Dataset | None = None, text: str | None = None) -> None:
    """Write beside the target, then rename: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".partial")
    if ds is not None:
        ds.save_as(tmp, enforce_file_format=True)
    else:
        tmp.write_text(text or "", encoding="utf-8")
    os.replace(tmp, path)


def write_demo_study(folder: Path, seed: int = 2026) -> DemoStudy:
    """Write RCC, LCC, RMLO, LMLO (4096 x 3328) and ground_truth.json into `folder`.

    The truth file is written last and lists each image's size, so `load_demo_study` can tell a
    complete study from an interrupted one.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth_path = folder / TRUTH_NAME
    truth_path.unlink(missing_ok=True)
    views, paths = [], []
    for instance, spec in enumerate(DEMO_VIEWS, start=1):
        mammogram = generate_mammogram(seed, spec.laterality, spec.view, lesions=[spec.lesion])
        ds = build_dataset(seed, spec, instance, mammogram)
        path = folder / f"{spec.name}.dcm"
        _atomic_write(path, ds)
        views.append(_view_truth(spec, ds, mammogram, path, seed))
        paths.append(path)
    truth = {
        "schema": SCHEMA,
        "synthetic": True,
        "note": "Synthetic images made by MammoLens; no patient data. Not for clinical use.",
        "seed": seed,
        "patient_name": PATIENT_NAME,
        "study_instance_uid": demo_uid(seed, "study"),
        "orientation": "chest wall on the image's left for L views, on its right for R views",
        "contrast_z": "(mean of lesion pixels - mean of surrounding ring) / std of the ring",
        "views": views,
    }
    _atomic_write(truth_path, text=json.dumps(truth, indent=1))
    return DemoStudy(folder, tuple(paths), truth_path, seed)


def load_demo_study(folder: Path, seed: int) -> DemoStudy | None:
    """The demo study already in `folder` if complete (truth present, every file its size)."""
    truth_path = Path(folder) / TRUTH_NAME
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        views = truth["views"]
        if truth.get("schema") != SCHEMA or truth.get("seed") != seed or len(views) != 4:
            return None
        paths = tuple(Path(folder) / str(view["file"]) for view in views)
        if any(
            p.stat().st_size != view["size_bytes"] for p, view in zip(paths, views, strict=True)
        ):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return DemoStudy(Path(folder), paths, truth_path, seed)

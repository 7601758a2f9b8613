"""Read and validate a DICOM header into an immutable `ImageHeader`, before any pixel allocation.

`read_header` parses everything up to the pixel data (never the pixel bytes), checks the image
pixel attributes for consistency, checks the declared size against a budget and (for native
data) against the bytes present, and raises a `DicomInputError` subclass naming the tag.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag
from pydicom.uid import UID

from viewer.dicomio.errors import (
    DicomInputError,
    InvalidAttributeError,
    MissingAttributeError,
    NoPixelDataError,
    NotDicomError,
    PixelDataSizeError,
    tag_label,
)
from viewer.dicomio.luts import ModalityLut, VoiLut, read_modality_lut, read_voi_luts

log = logging.getLogger(__name__)

DEFAULT_BUDGET_BYTES = 2 * 1024**3
"""Largest decoded pixel size accepted (all frames); override with MAMMOLENS_PIXEL_BUDGET."""

UNDEFINED_LENGTH = 0xFFFFFFFF
PIXEL_TAGS = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
DEFLATED = {"1.2.840.10008.1.2.1.99"}
# Transfer syntaxes that always lose information, or may (unless the file says "00").
ALWAYS_LOSSY = {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.104",
    "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.107",
    "1.2.840.10008.1.2.4.108",
}
MAYBE_LOSSY = {
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.112",
}
FOR_PROCESSING_SOP = {
    "1.2.840.10008.5.1.4.1.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.1.3.1",
}
# CID 4014 (View for Mammography): SNOMED CT and SNOMED-RT codes -> ViewPosition terms.
MAMMO_VIEW_CODES = {
    "399162004": "CC",
    "R-10242": "CC",
    "399368009": "MLO",
    "R-10226": "MLO",
    "399260004": "ML",
    "R-10224": "ML",
    "399352003": "LM",
    "R-10228": "LM",
    "399099002": "LMO",
    "R-10230": "LMO",
    "399196006": "FB",
    "R-10244": "FB",
    "399188001": "SIO",
    "R-102D0": "SIO",
    "441555000": "ISO",
    "R-40AAA": "ISO",
    "399192003": "XCC",
    "R-1024A": "XCC",
    "399101009": "XCCL",
    "R-1024B": "XCCL",
    "399265009": "XCCM",
    "R-1024E": "XCCM",
}
GRAY = ("MONOCHROME1", "MONOCHROME2")
ONE_SAMPLE = (*GRAY, "PALETTE COLOR")
THREE_SAMPLES = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")


class VoiFunction(StrEnum):
    """VOI LUT Function (0028,1056)."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True)
class VoiWindow:
    """One Window Center/Width pair with its explanation and VOI LUT Function."""

    center: float
    width: float
    explanation: str = ""
    function: VoiFunction = VoiFunction.LINEAR


@dataclass(frozen=True)
class ImageHeader:
    """Everything the viewer needs from a header; validated, immutable, no pixel data."""

    path: Path
    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    patient_name: str
    patient_id: str
    patient_birth_date: str
    patient_sex: str
    study_instance_uid: str
    study_date: str
    study_description: str
    accession_number: str
    series_instance_uid: str
    series_number: int | None
    series_description: str
    instance_number: int | None
    rows: int
    columns: int
    number_of_frames: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    photometric: str
    transfer_syntax_uid: str
    laterality: str
    view_position: str
    pixel_spacing: tuple[float, float] | None
    rescale_slope: float
    rescale_intercept: float
    has_modality_lut: bool
    windows: tuple[VoiWindow, ...]
    voi_luts: tuple[VoiLut, ...]
    presentation_lut_shape: str
    lossy_compressed: bool
    presentation_intent: str
    # Additions beyond the contract (pixel access details).
    modality_lut: ModalityLut | None = None
    planar_configuration: int = 0
    pixel_keyword: str = "PixelData"
    pixel_data_offset: int = -1
    pixel_data_length: int = -1
    is_encapsulated: bool = False
    is_little_endian: bool = True

    @property
    def is_grayscale(self) -> bool:
        """True for MONOCHROME1/2 (the photometric interpretations that take a VOI)."""
        return self.photometric in GRAY

    @property
    def is_monochrome1(self) -> bool:
        """True when the minimum stored value means white."""
        return self.photometric == "MONOCHROME1"

    @property
    def is_float(self) -> bool:
        """True for Float / Double Float Pixel Data."""
        return self.pixel_keyword != "PixelData"

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one decoded frame: (rows, cols) or (rows, cols, 3)."""
        rgb = self.samples_per_pixel == 3 or self.photometric == "PALETTE COLOR"
        return (self.rows, self.columns, 3) if rgb else (self.rows, self.columns)

    @property
    def declared_bytes(self) -> int:
        """Decoded size the header claims, all frames, at BitsAllocated per sample."""
        samples = self.rows * self.columns * self.number_of_frames * self.samples_per_pixel
        return (samples * self.bits_allocated + 7) // 8


def pixel_budget() -> int:
    """Bytes of decoded pixel data accepted per file (env MAMMOLENS_PIXEL_BUDGET overrides)."""
    raw = os.environ.get("MAMMOLENS_PIXEL_BUDGET", "")
    return int(raw) if raw.isdigit() else DEFAULT_BUDGET_BYTES


def read_dataset(path: str | Path) -> Dataset:
    """The dataset without pixel data (for the tag tree); NotDicomError if it is not DICOM."""
    path = Path(path)
    with _open(path) as fp:
        return _parse(path, fp)


def read_header(path: str | Path, budget: int | None = None) -> ImageHeader:
    """Parse and validate the header of an image file; raises DicomInputError subclasses."""
    path = Path(path)
    with _open(path) as fp:
        ds = _parse(path, fp)
        pixel_at = fp.tell()
        size = os.fstat(fp.fileno()).st_size
        tsyntax = _transfer_syntax(path, ds)
        element = _pixel_element(path, fp, ds, tsyntax, pixel_at, size)
    return _build_header(path, ds, tsyntax, element, size, budget)


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise NotDicomError(path, f"cannot open file ({exc.strerror})") from exc


def _parse(path: Path, fp: BinaryIO) -> Dataset:
    try:
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
        except InvalidDicomError:
            fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
            if not _plausible_raw_dataset(ds):
                raise NotDicomError(
                    path, "not a DICOM file", expected="'DICM' at byte 128 or a raw dataset"
                ) from None
        _convert_elements(path, ds)
    except DicomInputError:
        raise
    except (EOFError, struct.error) as exc:
        raise NotDicomError(path, f"header is truncated ({exc})", expected="complete") from exc
    except Exception as exc:  # pydicom raises many types on malformed input
        raise NotDicomError(path, f"unreadable DICOM header: {type(exc).__name__}: {exc}") from exc
    return ds


# Groups whose values decide the pixels: a malformed value there is fatal, elsewhere dropped.
PIXEL_GROUPS = (0x0002, 0x0028, 0x2050, 0x7FE0)


def _convert_elements(path: Path, ds: Dataset) -> None:
    """Convert every top-level element now, so a malformed one fails here, typed and named."""
    for tag in list(ds.keys()):
        try:
            _ = ds[tag].value
        except Exception as exc:
            keyword = pydicom.datadict.keyword_for_tag(tag) or "(private or unknown)"
            if tag.group not in PIXEL_GROUPS:
                log.warning("%s: dropped malformed %s: %s", path, tag_label(keyword, tag), exc)
                del ds[tag]
                continue
            raw = ds.get_item(tag)
            raw_value = getattr(raw, "value", None)
            raise InvalidAttributeError(
                path,
                "malformed value",
                tag=tag_label(keyword, int(tag)),
                value=raw_value[:64] if isinstance(raw_value, bytes) else raw_value,
                expected=f"a valid {getattr(raw, 'VR', '')} value ({exc})",
            ) from exc


def _plausible_raw_dataset(ds: Dataset) -> bool:
    """A file without preamble read with force=True: accept it only if it looks like an image."""
    try:
        return bool(ds.get("SOPClassUID")) or bool(ds.get("Rows") and ds.get("Columns"))
    except Exception:
        return False


def _transfer_syntax(path: Path, ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(str(uid).strip("\0 "))
    implicit, little = ds.original_encoding
    if implicit is None:
        raise MissingAttributeError(
            path,
            "transfer syntax unknown",
            tag=tag_label("TransferSyntaxUID", 0x00020010),
            expected="a Transfer Syntax UID in the file meta information",
        )
    if implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian


def _pixel_element(
    path: Path, fp: BinaryIO, ds: Dataset, tsyntax: UID, at: int, size: int
) -> tuple[str, int, int]:
    """(keyword, value offset, value length or UNDEFINED_LENGTH) of the pixel data element."""
    if tsyntax in DEFLATED:
        return "PixelData", -1, -1  # offsets are in the inflated stream; decoded in-process
    fp.seek(at)
    head = fp.read(12)
    implicit, little = ds.original_encoding
    implicit = bool(implicit) if implicit is not None else tsyntax.is_implicit_VR
    little = bool(little) if little is not None else tsyntax.is_little_endian
    end = "<" if little else ">"
    if len(head) < 8:
        raise NoPixelDataError(
            path,
            "no pixel data",
            tag=tag_label("PixelData", 0x7FE00010),
            expected="an image object with Pixel Data",
        )
    group, elem = struct.unpack(end + "HH", head[:4])
    tag = (group << 16) | elem
    if tag not in PIXEL_TAGS:
        raise NoPixelDataError(path, "no pixel data", tag=tag_label("PixelData", 0x7FE00010))
    if implicit:
        return PIXEL_TAGS[tag], at + 8, struct.unpack(end + "I", head[4:8])[0]
    if len(head) < 12:
        raise PixelDataSizeError(
            path, "pixel data element is truncated", tag=tag_label(PIXEL_TAGS[tag], tag)
        )
    return PIXEL_TAGS[tag], at + 12, struct.unpack(end + "I", head[8:12])[0]


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()


def _number(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _require_int(path: Path, ds: Dataset, keyword: str, default: int | None = None) -> int:
    tag = tag_label(keyword, int(Tag(keyword)))
    value = ds.get(keyword)
    if value in (None, ""):
        if default is not None:
            return default
        raise MissingAttributeError(path, "required attribute missing", tag=tag, expected="a value")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidAttributeError(
            path, "not an integer", tag=tag, value=value, expected="an integer"
        ) from None


def _invalid(path: Path, keyword: str, value: object, expected: str) -> InvalidAttributeError:
    return InvalidAttributeError(
        path,
        "invalid value",
        tag=tag_label(keyword, int(Tag(keyword))),
        value=value,
        expected=expected,
    )


def _pixel_attributes(path: Path, ds: Dataset, float_data: bool) -> dict[str, Any]:
    rows = _require_int(path, ds, "Rows")
    cols = _require_int(path, ds, "Columns")
    samples = _require_int(path, ds, "SamplesPerPixel", 1)
    bits_alloc = _require_int(path, ds, "BitsAllocated")
    bits_stored = _require_int(path, ds, "BitsStored", 0 if float_data else None)
    high_bit = _require_int(path, ds, "HighBit", max(bits_stored - 1, 0))
    pixel_rep = _require_int(path, ds, "PixelRepresentation", 0 if float_data else None)
    frames = _number(ds, "NumberOfFrames") or 1
    photometric = _text(ds, "PhotometricInterpretation").upper()
    if rows < 1 or rows > 0xFFFF:
        raise _invalid(path, "Rows", rows, "1..65535")
    if cols < 1 or cols > 0xFFFF:
        raise _invalid(path, "Columns", cols, "1..65535")
    if frames < 1:
        raise _invalid(path, "NumberOfFrames", frames, ">= 1")
    if bits_alloc not in (1, 8, 16, 32, 64) or (float_data and bits_alloc not in (32, 64)):
        raise _invalid(path, "BitsAllocated", bits_alloc, "1, 8, 16, 32 or 64")
    if not float_data:
        if not 1 <= bits_stored <= bits_alloc:
            raise _invalid(path, "BitsStored", bits_stored, f"1..BitsAllocated ({bits_alloc})")
        if high_bit >= bits_alloc or high_bit < bits_stored - 1:
            raise _invalid(
                path,
                "HighBit",
                high_bit,
                f"BitsStored - 1 ({bits_stored - 1}) < BitsAllocated ({bits_alloc})",
            )
        if pixel_rep not in (0, 1):
            raise _invalid(path, "PixelRepresentation", pixel_rep, "0 or 1")
    if not photometric:
        raise MissingAttributeError(
            path,
            "required attribute missing",
            tag=tag_label("PhotometricInterpretation", 0x00280004),
        )
    allowed = ONE_SAMPLE if samples == 1 else THREE_SAMPLES if samples == 3 else ()
    if samples not in (1, 3):
        raise _invalid(path, "SamplesPerPixel", samples, "1 or 3")
    if photometric not in allowed:
        raise _invalid(
            path,
            "PhotometricInterpretation",
            photometric,
            f"one of {', '.join(allowed)} for SamplesPerPixel {samples}",
        )
    return {
        "rows": rows,
        "columns": cols,
        "samples_per_pixel": samples,
        "bits_allocated": bits_alloc,
        "bits_stored": bits_stored,
        "high_bit": high_bit,
        "pixel_representation": pixel_rep,
        "number_of_frames": frames,
        "photometric": photometric,
        "planar_configuration": _number(ds, "PlanarConfiguration") or 0,
    }


def _build_header(
    path: Path,
    ds: Dataset,
    tsyntax: UID,
    element: tuple[str, int, int],
    size: int,
    budget: int | None,
) -> ImageHeader:
    keyword, offset, length = element
    pixels = _pixel_attributes(path, ds, keyword != "PixelData")
    encapsulated = length == UNDEFINED_LENGTH or (tsyntax.is_compressed and length != -1)
    try:
        modality_lut = read_modality_lut(ds)
    except Exception as exc:
        raise InvalidAttributeError(
            path,
            f"Modality LUT cannot be decoded ({exc})",
            tag=tag_label("ModalityLUTSequence", 0x00283000),
        ) from exc
    slope = _float(path, ds, "RescaleSlope", 1.0)
    header = ImageHeader(
        path=path,
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        modality=_text(ds, "Modality"),
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        patient_sex=_text(ds, "PatientSex"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        accession_number=_text(ds, "AccessionNumber"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_number(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        instance_number=_number(ds, "InstanceNumber"),
        transfer_syntax_uid=str(tsyntax),
        laterality=_laterality(ds),
        view_position=_view_position(ds),
        pixel_spacing=_pixel_spacing(ds),
        rescale_slope=slope if slope != 0 else 1.0,
        rescale_intercept=_float(path, ds, "RescaleIntercept", 0.0),
        has_modality_lut=modality_lut is not None,
        modality_lut=modality_lut,
        windows=_windows(ds),
        voi_luts=read_voi_luts(ds),
        presentation_lut_shape=_text(ds, "PresentationLUTShape").upper(),
        lossy_compressed=_lossy(ds, tsyntax),
        presentation_intent=_intent(ds),
        pixel_keyword=keyword,
        pixel_data_offset=offset,
        pixel_data_length=length,
        is_encapsulated=encapsulated,
        is_little_endian=tsyntax.is_little_endian,
        **pixels,
    )
    _check_size(header, size, budget)
    return header


def _check_size(header: ImageHeader, file_size: int, budget: int | None) -> None:
    """Declared size within the budget, and for native data within the bytes present."""
    path, declared = header.path, header.declared_bytes
    limit = pixel_budget() if budget is None else budget
    if declared > limit:
        raise PixelDataSizeError(
            path,
            "declared pixel data too large",
            tag=tag_label("Rows", 0x00280010),
            value=f"{header.rows} x {header.columns} x {header.number_of_frames} frames x "
            f"{header.samples_per_pixel} samples x {header.bits_allocated} bits = {declared} bytes",
            expected=f"at most {limit} bytes",
        )
    if header.is_encapsulated or header.pixel_data_offset < 0:
        return
    tag = tag_label(
        header.pixel_keyword, next(k for k, v in PIXEL_TAGS.items() if v == header.pixel_keyword)
    )
    present = min(header.pixel_data_length, file_size - header.pixel_data_offset)
    needed = _native_bytes(header)
    if present < needed:
        raise PixelDataSizeError(
            path,
            "pixel data is truncated",
            tag=tag,
            value=f"{present} bytes present",
            expected=f"{needed} bytes for the declared size",
        )


def _native_bytes(header: ImageHeader) -> int:
    """Bytes of native pixel data the attributes require (YBR_FULL_422 is subsampled)."""
    pixels = header.rows * header.columns * header.number_of_frames
    if header.photometric == "YBR_FULL_422":
        return (pixels * 2 * header.bits_allocated + 7) // 8
    return (pixels * header.samples_per_pixel * header.bits_allocated + 7) // 8


def _float(path: Path, ds: Dataset, keyword: str, default: float) -> float:
    value = ds.get(keyword)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(path, keyword, value, "a decimal number") from None
    if not np.isfinite(number):
        raise _invalid(path, keyword, value, "a finite decimal number")
    return number


def _windows(ds: Dataset) -> tuple[VoiWindow, ...]:
    """Every valid Window Center/Width pair as a preset (invalid widths are dropped)."""
    centers, widths = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centers is None or widths is None:
        return ()
    centers = list(centers) if isinstance(centers, pydicom.multival.MultiValue) else [centers]
    widths = list(widths) if isinstance(widths, pydicom.multival.MultiValue) else [widths]
    notes = ds.get("WindowCenterWidthExplanation") or []
    notes = [notes] if isinstance(notes, str) else list(notes)
    name = _text(ds, "VOILUTFunction").upper() or "LINEAR"
    function = VoiFunction(name) if name in VoiFunction.__members__ else VoiFunction.LINEAR
    windows = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        try:
            c, w = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if (
            not (np.isfinite(c) and np.isfinite(w))
            or w <= 0
            or (function is VoiFunction.LINEAR and w < 1)
        ):
            continue
        note = str(notes[i]).strip() if i < len(notes) else ""
        windows.append(VoiWindow(c, w, note or f"Window {i + 1}", function))
    return tuple(windows)


def _laterality(ds: Dataset) -> str:
    value = (_text(ds, "ImageLaterality") or _text(ds, "Laterality")).upper()
    return value if value in ("L", "R") else ""


def _view_position(ds: Dataset) -> str:
    view = _text(ds, "ViewPosition").upper()
    if view:
        return view
    for item in ds.get("ViewCodeSequence") or []:
        code = str(item.get("CodeValue", "") or item.get("LongCodeValue", "")).strip()
        if code in MAMMO_VIEW_CODES:
            return MAMMO_VIEW_CODES[code]
    return ""


def _pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            row, col = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0:
            return row, col
    return None


def _lossy(ds: Dataset, tsyntax: UID) -> bool:
    flag = _text(ds, "LossyImageCompression")
    if flag == "01" or tsyntax in ALWAYS_LOSSY:
        return True
    return tsyntax in MAYBE_LOSSY and flag != "00"


def _intent(ds: Dataset) -> str:
    intent = _text(ds, "PresentationIntentType").upper()
    if intent in ("FOR PRESENTATION", "FOR PROCESSING"):
        return intent
    sop = _text(ds, "SOPClassUID")
    if sop in FOR_PROCESSING_SOP:
        return "FOR PROCESSING"
    return ""

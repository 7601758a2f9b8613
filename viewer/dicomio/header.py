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
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from viewer.dicomio.attributes import (
    GRAY,
    VoiWindow,
    decimal,
    intent,
    laterality,
    lossy,
    number,
    pixel_attributes,
    pixel_spacing,
    text,
    view_position,
    windows,
)
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
            if not _starts_like_dataset(fp.read(6)):
                raise _not_dicom(path) from None
            fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
            if not _plausible_raw_dataset(ds):
                raise _not_dicom(path) from None
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
                # The exception text may quote the value (a patient's name): never log it.
                log.warning(
                    "%s: dropped malformed %s (%s)",
                    path,
                    tag_label(keyword, tag),
                    type(exc).__name__,
                )
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


def _not_dicom(path: Path) -> NotDicomError:
    return NotDicomError(path, "not a DICOM file", expected="'DICM' at byte 128 or a raw dataset")


# First groups of a dataset without preamble and meta (the raw files worth a forced read).
RAW_FIRST_GROUPS = (0x0002, 0x0004, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028)


def _starts_like_dataset(head: bytes) -> bool:
    """Only a file starting with a plausible tag is parsed with force=True: a forced read of
    arbitrary bytes can take garbage lengths as gigabyte-sized values."""
    if len(head) < 6:
        return False
    little, big = struct.unpack("<H", head[:2])[0], struct.unpack(">H", head[:2])[0]
    return little in RAW_FIRST_GROUPS or big in RAW_FIRST_GROUPS


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


def _build_header(
    path: Path,
    ds: Dataset,
    tsyntax: UID,
    element: tuple[str, int, int],
    size: int,
    budget: int | None,
) -> ImageHeader:
    keyword, offset, length = element
    header = ImageHeader(
        path=path,
        **_identity(ds),
        **pixel_attributes(path, ds, keyword != "PixelData"),
        **_modality(path, ds),
        transfer_syntax_uid=str(tsyntax),
        laterality=laterality(ds),
        view_position=view_position(ds),
        pixel_spacing=pixel_spacing(ds),
        windows=windows(ds),
        voi_luts=read_voi_luts(ds),
        presentation_lut_shape=text(ds, "PresentationLUTShape").upper(),
        lossy_compressed=lossy(ds, tsyntax),
        presentation_intent=intent(ds),
        pixel_keyword=keyword,
        pixel_data_offset=offset,
        pixel_data_length=length,
        is_encapsulated=length == UNDEFINED_LENGTH or (tsyntax.is_compressed and length != -1),
        is_little_endian=tsyntax.is_little_endian,
    )
    _check_size(header, size, budget)
    return header


# ImageHeader text field -> DICOM keyword.
IDENTITY_TEXT = {
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "modality": "Modality",
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "study_instance_uid": "StudyInstanceUID",
    "study_date": "StudyDate",
    "study_description": "StudyDescription",
    "accession_number": "AccessionNumber",
    "series_instance_uid": "SeriesInstanceUID",
    "series_description": "SeriesDescription",
}


def _identity(ds: Dataset) -> dict[str, Any]:
    """Patient / study / series / instance identification fields of ImageHeader."""
    fields: dict[str, Any] = {name: text(ds, keyword) for name, keyword in IDENTITY_TEXT.items()}
    fields["series_number"] = number(ds, "SeriesNumber")
    fields["instance_number"] = number(ds, "InstanceNumber")
    return fields


def _modality(path: Path, ds: Dataset) -> dict[str, Any]:
    """Rescale Slope/Intercept and the Modality LUT (checked)."""
    try:
        modality_lut = read_modality_lut(ds)
    except Exception as exc:
        raise InvalidAttributeError(
            path,
            f"Modality LUT cannot be decoded ({exc})",
            tag=tag_label("ModalityLUTSequence", 0x00283000),
        ) from exc
    slope = decimal(path, ds, "RescaleSlope", 1.0)
    if slope == 0 and modality_lut is None:
        raise InvalidAttributeError(
            path,
            "invalid value",
            tag=tag_label("RescaleSlope", 0x00281053),
            value=slope,
            expected="non-zero",
        )
    return {
        "rescale_slope": slope,
        "rescale_intercept": decimal(path, ds, "RescaleIntercept", 0.0),
        "has_modality_lut": modality_lut is not None,
        "modality_lut": modality_lut,
    }


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

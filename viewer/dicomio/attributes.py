"""Attribute readers for `read_header`: typed values, pixel-attribute consistency, VOI presets,
laterality and view (ViewPosition or the mammography view codes), spacing, lossy, intent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID

from viewer.dicomio.errors import InvalidAttributeError, MissingAttributeError, tag_label

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


def text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()


def number(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def require_int(path: Path, ds: Dataset, keyword: str, default: int | None = None) -> int:
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


def invalid(path: Path, keyword: str, value: object, expected: str) -> InvalidAttributeError:
    return InvalidAttributeError(
        path,
        "invalid value",
        tag=tag_label(keyword, int(Tag(keyword))),
        value=value,
        expected=expected,
    )


def pixel_attributes(path: Path, ds: Dataset, float_data: bool) -> dict[str, Any]:
    """Image Pixel module values, checked for range and consistency (ImageHeader fields)."""
    rows = require_int(path, ds, "Rows")
    cols = require_int(path, ds, "Columns")
    samples = require_int(path, ds, "SamplesPerPixel", 1)
    bits_alloc = require_int(path, ds, "BitsAllocated")
    bits_stored = require_int(path, ds, "BitsStored", 0 if float_data else None)
    high_bit = require_int(path, ds, "HighBit", max(bits_stored - 1, 0))
    pixel_rep = require_int(path, ds, "PixelRepresentation", 0 if float_data else None)
    frames = number(ds, "NumberOfFrames") or 1
    photometric = text(ds, "PhotometricInterpretation").upper()
    for keyword, value, low, high in (
        ("Rows", rows, 1, 0xFFFF),
        ("Columns", cols, 1, 0xFFFF),
        ("NumberOfFrames", frames, 1, 2**31),
    ):
        if not low <= value <= high:
            raise invalid(path, keyword, value, f"{low}..{high}")
    _check_bits(path, float_data, bits_alloc, bits_stored, high_bit, pixel_rep)
    _check_photometric(path, samples, photometric)
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
        "planar_configuration": number(ds, "PlanarConfiguration") or 0,
    }


def _check_bits(
    path: Path,
    float_data: bool,
    bits_alloc: int,
    bits_stored: int,
    high_bit: int,
    pixel_rep: int,
) -> None:
    if bits_alloc not in (1, 8, 16, 32, 64) or (float_data and bits_alloc not in (32, 64)):
        raise invalid(path, "BitsAllocated", bits_alloc, "1, 8, 16, 32 or 64")
    if float_data:
        return
    if not 1 <= bits_stored <= bits_alloc:
        raise invalid(path, "BitsStored", bits_stored, f"1..BitsAllocated ({bits_alloc})")
    if high_bit >= bits_alloc or high_bit < bits_stored - 1:
        expected = f"BitsStored - 1 ({bits_stored - 1}) < BitsAllocated ({bits_alloc})"
        raise invalid(path, "HighBit", high_bit, expected)
    if pixel_rep not in (0, 1):
        raise invalid(path, "PixelRepresentation", pixel_rep, "0 or 1")


def _check_photometric(path: Path, samples: int, photometric: str) -> None:
    if not photometric:
        raise MissingAttributeError(
            path,
            "required attribute missing",
            tag=tag_label("PhotometricInterpretation", 0x00280004),
        )
    if samples not in (1, 3):
        raise invalid(path, "SamplesPerPixel", samples, "1 or 3")
    allowed = ONE_SAMPLE if samples == 1 else THREE_SAMPLES
    if photometric not in allowed:
        expected = f"one of {', '.join(allowed)} for SamplesPerPixel {samples}"
        raise invalid(path, "PhotometricInterpretation", photometric, expected)


def decimal(path: Path, ds: Dataset, keyword: str, default: float) -> float:
    value = ds.get(keyword)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(path, keyword, value, "a decimal number") from None
    if not np.isfinite(number):
        raise invalid(path, keyword, value, "a finite decimal number")
    return number


def windows(ds: Dataset) -> tuple[VoiWindow, ...]:
    """Every valid Window Center/Width pair as a preset (invalid widths are dropped)."""
    centers, widths = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centers is None or widths is None:
        return ()
    centers = list(centers) if isinstance(centers, pydicom.multival.MultiValue) else [centers]
    widths = list(widths) if isinstance(widths, pydicom.multival.MultiValue) else [widths]
    notes = ds.get("WindowCenterWidthExplanation") or []
    notes = [notes] if isinstance(notes, str) else list(notes)
    name = text(ds, "VOILUTFunction").upper() or "LINEAR"
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


def laterality(ds: Dataset) -> str:
    value = (text(ds, "ImageLaterality") or text(ds, "Laterality")).upper()
    return value if value in ("L", "R") else ""


def view_position(ds: Dataset) -> str:
    view = text(ds, "ViewPosition").upper()
    if view:
        return view
    for item in ds.get("ViewCodeSequence") or []:
        code = str(item.get("CodeValue", "") or item.get("LongCodeValue", "")).strip()
        if code in MAMMO_VIEW_CODES:
            return MAMMO_VIEW_CODES[code]
    return ""


def pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            row, col = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0:
            return row, col
    return None


def lossy(ds: Dataset, tsyntax: UID) -> bool:
    flag = text(ds, "LossyImageCompression")
    if flag == "01" or tsyntax in ALWAYS_LOSSY:
        return True
    return tsyntax in MAYBE_LOSSY and flag != "00"


def intent(ds: Dataset) -> str:
    intent = text(ds, "PresentationIntentType").upper()
    if intent in ("FOR PRESENTATION", "FOR PROCESSING"):
        return intent
    sop = text(ds, "SOPClassUID")
    if sop in FOR_PROCESSING_SOP:
        return "FOR PROCESSING"
    return ""

"""Lookup tables read from a header: the Modality LUT and the VOI LUTs, as plain numpy tables.

The tables are extracted with pydicom's own `apply_modality_lut` / `apply_voi` applied to a ramp
of input values, so every quirk of LUT Descriptor / LUT Data decoding is pydicom's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut, apply_voi

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class VoiLut:
    """One VOI LUT Sequence item: input modality value `first_mapped + i` -> `lut[i]`.

    Output range is 0 .. 2**bits - 1 (bits = third LUT Descriptor value).
    """

    first_mapped: int
    lut: np.ndarray
    explanation: str = ""
    bits: int = 16


@dataclass(frozen=True, eq=False)
class ModalityLut:
    """The Modality LUT Sequence item: stored value `first_mapped + i` -> `lut[i]`."""

    first_mapped: int
    lut: np.ndarray
    bits: int
    lut_type: str = ""


def _descriptor(item: Dataset) -> tuple[int, int, int]:
    desc = [int(v) for v in item.LUTDescriptor]
    if len(desc) != 3:
        raise ValueError(f"LUTDescriptor has {len(desc)} values, expected 3")
    return desc[0] or 2**16, desc[1], desc[2]


def read_modality_lut(ds: Dataset) -> ModalityLut | None:
    """The first Modality LUT Sequence item, or None; ValueError if it cannot be decoded."""
    seq = ds.get("ModalityLUTSequence")
    if not seq:
        return None
    n, first, bits = _descriptor(seq[0])
    ramp = np.arange(first, first + n, dtype=np.int64)
    lut = np.asarray(apply_modality_lut(ramp, ds))
    lut.flags.writeable = False
    return ModalityLut(first, lut, bits, str(seq[0].get("ModalityLUTType", "")))


def read_voi_luts(ds: Dataset) -> tuple[VoiLut, ...]:
    """Every decodable VOI LUT Sequence item; an undecodable item is logged and skipped."""
    seq = ds.get("VOILUTSequence") or []
    luts = []
    for index, item in enumerate(seq):
        try:
            n, first, bits = _descriptor(item)
            ramp = np.arange(first, first + n, dtype=np.int64)
            lut = np.asarray(apply_voi(ramp, ds, index))
        except Exception as exc:
            log.warning("VOI LUT item %d skipped: %s", index, exc)
            continue
        lut.flags.writeable = False
        explanation = str(item.get("LUTExplanation", "") or f"VOI LUT {index + 1}")
        luts.append(VoiLut(first, lut, explanation, bits))
    return tuple(luts)

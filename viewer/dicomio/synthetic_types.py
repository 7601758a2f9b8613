"""Value types of the synthetic mammogram generator (see `viewer.dicomio.synthetic`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np


class LesionKind(StrEnum):
    """The kinds of synthetic lesion the generator can place."""

    MASS = "mass"
    CALCIFICATION_CLUSTER = "calcification_cluster"


class Laterality(StrEnum):
    """Which breast: DICOM ImageLaterality values."""

    LEFT = "L"
    RIGHT = "R"


class View(StrEnum):
    """The mammographic view: DICOM ViewPosition values."""

    CC = "CC"
    MLO = "MLO"


class SyntheticParameterError(ValueError):
    """A generator argument is out of range; the message names the field, value and expectation."""

    def __init__(self, field_name: str, value: object, expected: str) -> None:
        self.field = field_name
        self.value = value
        self.expected = expected
        super().__init__(f"synthetic mammogram: {field_name}={value!r}: expected {expected}")


@dataclass(frozen=True)
class Lesion:
    """Ground truth of one synthetic lesion, in pixel coordinates of the final image.

    `radius_px` is the mean radius of a mass outline or the radius of a calcification cluster's
    disk-shaped region; `outline_yx` is a closed polygon (first vertex not repeated).
    `contrast` is "z": for a mass, (mean inside the outline - mean of a surrounding ring) / std of
    that ring; for a calcification cluster, the same with the speck pixels as "inside" (at full
    resolution). `contrast_8x` is that z on 0.56 mm pixels (block means; an 8x downsample of the
    default 0.07 mm), where calcification specks almost vanish and a mass does not.
    """

    kind: LesionKind
    center_yx: tuple[float, float]
    radius_px: float
    outline_yx: tuple[tuple[float, float], ...]
    contrast: float
    size_mm: float = 0.0
    shape: str = ""
    contrast_8x: float = 0.0
    specks_yx: tuple[tuple[float, float], ...] = ()
    speck_diameters_mm: tuple[float, ...] = ()


@dataclass(frozen=True, eq=False)
class SyntheticMammogram:
    """One synthetic mammogram: MONOCHROME2 12-bit stored values (dense tissue bright).

    `breast_mask` is True on all tissue, the pectoral muscle of an MLO view included.
    """

    pixels: np.ndarray
    laterality: str
    view: str
    pixel_spacing_mm: float
    lesions: tuple[Lesion, ...]
    breast_mask: np.ndarray
    seed: int = 0
    pectoral_mask: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DemoStudy:
    """The files of a written demo study: four views (RCC, LCC, RMLO, LMLO) and the truth JSON."""

    folder: Path
    image_paths: tuple[Path, ...]
    truth_path: Path
    seed: int

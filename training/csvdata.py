"""Training data from a user's own DICOM files, listed in a CSV.

One row per image: ``dicom_path,label[,row0,col0,row1,col1]`` (a header row naming these columns
is allowed; relative paths are relative to the CSV's folder). ``label`` is 1 (lesion) or 0.
The optional box (original image pixels, half-open) marks the lesion: it gives dense CAM
supervision and positive crops. Pixels are read by the runtime's reader (`viewer.dicomio.load_image`
+ `ai_input`) and preprocessed by the runtime's own code (`inference`, via `training.prep`).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.manifest import ModelManifest
from training.config import RunConfig
from training.data import Truth, reduce_case

log = logging.getLogger(__name__)

COLUMNS = ("dicom_path", "label", "row0", "col0", "row1", "col1")


class CsvInputError(ValueError):
    """A CSV row cannot be used; the message names the file, row, column, value and expectation."""

    def __init__(self, path: Path, row: int, column: str, value: object, expected: str) -> None:
        self.path, self.row, self.column, self.value = path, row, column, value
        super().__init__(f"{path}: row {row}: {column} = {value!r}: expected {expected}")


@dataclass(frozen=True)
class CsvRow:
    """One training image of a CSV."""

    dicom_path: Path
    label: int
    box: tuple[int, int, int, int] | None


def read_rows(path: Path) -> list[CsvRow]:
    """Parse and check every row of the CSV (raises CsvInputError)."""
    with path.open(newline="") as handle:
        rows = [r for r in csv.reader(handle) if r and any(cell.strip() for cell in r)]
    if rows and rows[0][0].strip().lower() == COLUMNS[0]:
        rows = rows[1:]
    out = []
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        partial_box = any(cells[2:]) and not all(cells[2:])
        if len(cells) not in (2, 6) or partial_box:
            raise CsvInputError(path, number, "columns", row, f"2 or 6 columns {COLUMNS}")
        if cells[1] not in ("0", "1"):
            raise CsvInputError(path, number, "label", cells[1], "0 or 1")
        box = None
        if len(cells) == 6 and all(cells[2:]):
            try:
                r0, c0, r1, c1 = (int(float(v)) for v in cells[2:])
            except ValueError:
                raise CsvInputError(path, number, "box", cells[2:], "four integers") from None
            if not (0 <= r0 < r1 and 0 <= c0 < c1):
                raise CsvInputError(path, number, "box", cells[2:], "row0 < row1, col0 < col1")
            box = (r0, c0, r1, c1)
        dicom = Path(cells[0])
        out.append(
            CsvRow(dicom if dicom.is_absolute() else path.parent / dicom, int(cells[1]), box)
        )
    if not out:
        raise CsvInputError(path, 0, "rows", 0, "at least one image")
    return out


def _truth(row: CsvRow, shape: tuple[int, ...]) -> Truth:
    if row.box is None:
        return Truth(bool(row.label), None if row.label else np.zeros(shape, bool), ())
    mask = np.zeros(shape, bool)
    r0, c0, r1, c1 = row.box
    mask[r0:r1, c0:c1] = True
    return Truth(True, mask, (((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2),))


def load_csv_cases(
    path: Path, manifest: ModelManifest, config: RunConfig
) -> list[dict[str, np.ndarray]]:
    """Read, preprocess and reduce every CSV image to training arrays (see training.data)."""
    from viewer.dicomio import ai_input, load_image

    cases = []
    for number, row in enumerate(read_rows(path), start=1):
        image = load_image(row.dicom_path)
        header = image.header
        if header.pixel_spacing is None:
            raise CsvInputError(path, number, "PixelSpacing", None, "a pixel spacing in the file")
        values = ai_input(image)
        plan = (config.crops_per_lesion, config.normal_crops, number)
        truth = _truth(row, values.shape)
        cases.append(
            reduce_case(
                values,
                float(header.pixel_spacing[0]),
                header.laterality,
                truth,
                manifest,
                plan,
                config.global_stride,
            )
        )
        log.info("csv %d: %s label %d", number, row.dicom_path, row.label)
    return cases

"""`python -m training train --csv`: DICOM files read by the runtime reader, with lesion boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from inference import load_manifest
from training.cli import main
from training.csvdata import CsvInputError, read_rows
from viewer.dicomio.synthetic import LesionKind, generate_mammogram
from viewer.dicomio.synthetic_study import DemoView, build_dataset

pytestmark = pytest.mark.train

IMAGES = (
    ("R", [LesionKind.MASS]),
    ("L", "none"),
    ("L", [LesionKind.CALCIFICATION_CLUSTER]),
    ("R", "none"),
)


def _write_csv(folder: Path) -> Path:
    rows = ["dicom_path,label,row0,col0,row1,col1"]
    for index, (laterality, lesions) in enumerate(IMAGES):
        m = generate_mammogram(
            50 + index, laterality, "CC", (1024, 832), pixel_spacing_mm=0.28, lesions=lesions
        )
        ds = build_dataset(50 + index, DemoView(laterality, "CC", LesionKind.MASS), index + 1, m)
        name = f"img{index}.dcm"
        ds.save_as(folder / name, enforce_file_format=True)
        if m.lesions:
            outline = np.array(m.lesions[0].outline_yx)
            r0, c0 = np.floor(outline.min(0)).astype(int)
            r1, c1 = np.ceil(outline.max(0)).astype(int) + 1
            rows.append(f"{name},1,{r0},{c0},{r1},{c1}")
        else:
            rows.append(f"{name},0,,,,")
    path = folder / "train.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_training_from_a_csv_of_dicom_files(tmp_path: Path) -> None:
    csv_path = _write_csv(tmp_path)
    out = tmp_path / "model"
    assert (
        main(["train", "--csv", str(csv_path), "--out", str(out), "--quick", "--threads", "1"]) == 0
    )
    manifest = load_manifest(out)
    assert "train.csv" in manifest.training_data
    log = json.loads((out / "torch" / "training_log.json").read_text())
    assert log["train_images"] == len(IMAGES)
    assert log["train_crops"] > 0


@pytest.mark.parametrize(
    ("line", "column"),
    [("a.dcm,2", "label"), ("a.dcm,1,5,5,1,1", "box"), ("a.dcm,1,5,5", "columns")],
)
def test_bad_csv_rows_name_the_row_and_column(tmp_path: Path, line: str, column: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("dicom_path,label,row0,col0,row1,col1\nok.dcm,0,,,,\n" + line + "\n")
    with pytest.raises(CsvInputError) as info:
        read_rows(path)
    assert info.value.row == 2
    assert info.value.column == column
    assert "bad.csv" in str(info.value)

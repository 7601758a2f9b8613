"""scan_paths: folders (recursive), DICOMDIR, grouping, laterality/view, errors reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from tests.dicomio.conftest import PYDICOM_FILES, make_dataset, write_dataset
from viewer.dicomio import DicomInputError, NotDicomError, scan_paths


def _study(folder: Path) -> str:
    study, series = generate_uid(), generate_uid()
    pixels = np.zeros((8, 8), np.uint16)
    (folder / "a" / "b").mkdir(parents=True)
    for number, (side, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]):
        ds = make_dataset(
            pixels,
            StudyInstanceUID=study,
            ImageLaterality=side,
            ViewPosition=view,
            InstanceNumber=4 - number,
            PatientID="P1",
            PatientName="Doe^Jane",
        )
        ds.SeriesInstanceUID = series
        write_dataset(folder / ("a/b" if number % 2 else "a"), f"{side}{view}.dcm", ds)
    (folder / "notes.txt").write_text("not dicom")
    return study


def test_folder_is_grouped_recursively(tmp_path: Path) -> None:
    study = _study(tmp_path)
    errors: list[DicomInputError] = []
    tree = scan_paths([tmp_path], errors)
    assert len(tree) == 1 and tree[0].patient_id == "P1"
    (study_node,) = tree[0].studies
    assert study_node.study_instance_uid == study
    (series,) = study_node.series
    views = [(i.header.laterality, i.header.view_position) for i in series.images]
    assert views == [("L", "MLO"), ("R", "MLO"), ("L", "CC"), ("R", "CC")]  # by InstanceNumber
    assert len(errors) == 1 and isinstance(errors[0], NotDicomError)


def test_same_file_twice_is_listed_once(tmp_path: Path) -> None:
    _study(tmp_path)
    tree = scan_paths([tmp_path, tmp_path / "a" / "RCC.dcm"])
    assert len(tree[0].studies[0].series[0].images) == 4


def test_dicomdir_is_followed() -> None:
    errors: list[DicomInputError] = []
    tree = scan_paths([PYDICOM_FILES / "dicomdirtests" / "DICOMDIR"], errors)
    assert {patient.patient_id for patient in tree} == {"77654033", "98890234"}
    images = [i for p in tree for s in p.studies for se in s.series for i in se.images]
    assert len(images) == 31  # every IMAGE record of the DICOMDIR
    assert not errors

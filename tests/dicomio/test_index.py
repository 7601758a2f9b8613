"""scan_paths: folders (recursive), DICOMDIR, grouping, laterality/view, errors reported."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from tests.dicomio.conftest import PYDICOM_FILES, make_dataset, pydicom_data_folder, write_dataset
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


def test_sqlite_cache_round_trips_and_notices_changes(tmp_path: Path) -> None:
    from viewer.dicomio import HeaderCache, read_header
    from viewer.dicomio.index_cache import header_from_json, header_to_json

    for name in ["vlut_04.dcm", "mlut_18.dcm", "RG1_UNCR.dcm"]:
        header = read_header(pydicom_data_folder() / name)
        again = header_from_json(header_to_json(header))
        assert again.windows == header.windows and again.path == header.path
        assert [v.lut.tolist() for v in again.voi_luts] == [v.lut.tolist() for v in header.voi_luts]
        assert (again.modality_lut is None) == (header.modality_lut is None)
    _study(tmp_path / "data")
    cache = HeaderCache(tmp_path / "index.sqlite")
    first = scan_paths([tmp_path / "data"], cache=cache)
    assert len(cache) == 4
    assert scan_paths([tmp_path / "data"], cache=cache) == first
    changed = tmp_path / "data" / "a" / "RCC.dcm"
    ds = pydicom.dcmread(changed)
    ds.ImageLaterality = "L"
    before = changed.stat().st_mtime_ns
    ds.save_as(changed)
    os.utime(changed, ns=(before + 10**9, before + 10**9))  # coarse-clock filesystems too
    tree = scan_paths([tmp_path / "data"], cache=cache)
    sides = sorted(i.header.laterality for i in tree[0].studies[0].series[0].images)
    assert sides == ["L", "L", "L", "R"]
    cache.close()

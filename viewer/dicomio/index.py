"""Study index: files, folders (recursive) and DICOMDIRs grouped into patient/study/series/image.

`scan_paths` reads headers only (no pixels). Files that are not readable images are skipped and
reported through the optional `errors` list (non-DICOM files in a folder included).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from viewer.dicomio.errors import DicomInputError, NotDicomError
from viewer.dicomio.header import ImageHeader, read_header
from viewer.dicomio.index_cache import HeaderCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageNode:
    """One image file (its validated header: laterality, view_position, frames...)."""

    header: ImageHeader

    @property
    def path(self) -> Path:
        """The file."""
        return self.header.path


@dataclass(frozen=True)
class SeriesNode:
    """One series, images sorted by Instance Number then path."""

    series_instance_uid: str
    series_number: int | None
    series_description: str
    modality: str
    images: tuple[ImageNode, ...]


@dataclass(frozen=True)
class StudyNode:
    """One study, series sorted by Series Number."""

    study_instance_uid: str
    study_date: str
    study_description: str
    accession_number: str
    series: tuple[SeriesNode, ...]


@dataclass(frozen=True)
class PatientNode:
    """One patient (by Patient ID and Name), studies sorted by date."""

    patient_id: str
    patient_name: str
    studies: tuple[StudyNode, ...]


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every candidate file: files as given, folders recursively, DICOMDIRs expanded."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.name.upper() != "DICOMDIR":
                    yield child
        elif path.name.upper() == "DICOMDIR" or path.suffix.upper() == ".DICOMDIR":
            yield from _dicomdir_files(path)
        else:
            yield path


def _dicomdir_files(path: Path) -> Iterator[Path]:
    from pydicom import dcmread
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(dcmread(path))
    except Exception as exc:
        raise NotDicomError(path, f"unreadable DICOMDIR ({exc})") from exc
    for instance in fileset:
        yield Path(instance.path)


def scan_paths(
    paths: Iterable[str | Path],
    errors: list[DicomInputError] | None = None,
    cache: HeaderCache | None = None,
) -> list[PatientNode]:
    """Group every readable image under `paths` into a patient/study/series/image tree.

    Unreadable files are skipped and appended to `errors`; with a `HeaderCache` (SQLite)
    unchanged files are not parsed again.
    """
    headers: list[ImageHeader] = []
    try:
        files = list(iter_files(paths))
    except DicomInputError as error:
        files = []
        if errors is not None:
            errors.append(error)
    for file in files:
        try:
            headers.append(cache.read_header(file) if cache is not None else read_header(file))
        except DicomInputError as error:
            log.debug("skipped %s: %s", file, error.reason)
            if errors is not None:
                errors.append(error)
    return group_headers(headers)


def group_headers(headers: Iterable[ImageHeader]) -> list[PatientNode]:
    """The tree for headers already read (duplicates by SOP Instance UID kept once)."""
    tree: dict[tuple[str, str], dict[str, dict[str, dict[str, ImageHeader]]]] = {}
    for header in headers:
        patient = tree.setdefault((header.patient_id, header.patient_name), {})
        study = patient.setdefault(header.study_instance_uid, {})
        series = study.setdefault(header.series_instance_uid, {})
        series.setdefault(header.sop_instance_uid or str(header.path), header)
    return [
        PatientNode(pid, name, _studies(studies)) for (pid, name), studies in sorted(tree.items())
    ]


def _studies(studies: dict[str, dict[str, dict[str, ImageHeader]]]) -> tuple[StudyNode, ...]:
    nodes = []
    for uid, series in studies.items():
        first = next(iter(next(iter(series.values())).values()))
        nodes.append(
            StudyNode(
                uid,
                first.study_date,
                first.study_description,
                first.accession_number,
                _series(series),
            )
        )
    return tuple(sorted(nodes, key=lambda node: (node.study_date, node.study_instance_uid)))


def _series(series: dict[str, dict[str, ImageHeader]]) -> tuple[SeriesNode, ...]:
    nodes = []
    for uid, images in series.items():
        ordered = sorted(images.values(), key=lambda h: (h.instance_number or 0, str(h.path)))
        first = ordered[0]
        nodes.append(
            SeriesNode(
                uid,
                first.series_number,
                first.series_description,
                first.modality,
                tuple(ImageNode(h) for h in ordered),
            )
        )
    return tuple(
        sorted(nodes, key=lambda node: (node.series_number or 0, node.series_instance_uid))
    )

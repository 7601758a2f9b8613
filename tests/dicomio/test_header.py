"""read_header: validation before allocation, typed one-line errors, mammography attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.dicomio.conftest import make_dataset, write_dataset
from viewer.dicomio import (
    DicomInputError,
    InvalidAttributeError,
    MissingAttributeError,
    NoPixelDataError,
    NotDicomError,
    PixelDataSizeError,
    VoiFunction,
    read_dataset,
    read_header,
)

PIXELS = (np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) % 4096).astype(np.uint16)


def _error(path: Path, kind: type[DicomInputError]) -> DicomInputError:
    with pytest.raises(kind) as caught:
        read_header(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return caught.value


@pytest.mark.parametrize(
    ("attrs", "keyword", "tag"),
    [
        ({"BitsStored": 17}, "BitsStored", "(0028,0101)"),
        ({"BitsStored": 0}, "BitsStored", "(0028,0101)"),
        ({"HighBit": 16}, "HighBit", "(0028,0102)"),
        ({"BitsStored": 12, "HighBit": 5}, "HighBit", "(0028,0102)"),
        ({"BitsAllocated": 12}, "BitsAllocated", "(0028,0100)"),
        ({"PixelRepresentation": 2}, "PixelRepresentation", "(0028,0103)"),
        ({"SamplesPerPixel": 2}, "SamplesPerPixel", "(0028,0002)"),
        ({"PhotometricInterpretation": "RGB"}, "PhotometricInterpretation", "(0028,0004)"),
        ({"Rows": 0}, "Rows", "(0028,0010)"),
        ({"RescaleSlope": 0, "RescaleIntercept": 5}, "RescaleSlope", "(0028,1053)"),
        ({"NumberOfFrames": -2}, "NumberOfFrames", "(0028,0008)"),
    ],
)
def test_inconsistent_pixel_attributes_name_the_tag(
    tmp_path: Path, attrs: dict, keyword: str, tag: str
) -> None:
    ds = make_dataset(PIXELS)
    for name, value in attrs.items():
        setattr(ds, name, value)
    error = _error(write_dataset(tmp_path, "bad.dcm", ds), InvalidAttributeError)
    assert keyword in error.tag and tag in error.tag
    assert keyword in str(error) and error.expected


def test_malformed_value_in_pixel_module_is_named(tmp_path: Path) -> None:
    path = write_dataset(tmp_path, "slope.dcm", make_dataset(PIXELS, RescaleSlope="9.75"))
    path.write_bytes(path.read_bytes().replace(b"9.75", b"abcd"))
    error = _error(path, InvalidAttributeError)
    assert "RescaleSlope (0028,1053)" in str(error) and "abcd" in str(error)


def test_malformed_value_elsewhere_is_dropped(tmp_path: Path) -> None:
    path = write_dataset(tmp_path, "age.dcm", make_dataset(PIXELS, PatientWeight="71.5"))
    path.write_bytes(path.read_bytes().replace(b"71.5", b"heavy"[:4]))
    header = read_header(path)
    assert header.rows == 64


def test_missing_required_attribute(tmp_path: Path) -> None:
    ds = make_dataset(PIXELS)
    del ds.BitsAllocated
    error = _error(write_dataset(tmp_path, "x.dcm", ds), MissingAttributeError)
    assert "BitsAllocated (0028,0100)" in str(error)


def test_budget_checked_before_allocation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = make_dataset(PIXELS)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 2  # claims 14.4 GB
    error = _error(write_dataset(tmp_path, "huge.dcm", ds), PixelDataSizeError)
    assert "14400000000 bytes" in str(error) and "at most" in str(error)
    path = write_dataset(tmp_path, "ok.dcm", make_dataset(PIXELS))
    monkeypatch.setenv("MAMMOLENS_PIXEL_BUDGET", "1000")
    _error(path, PixelDataSizeError)
    assert read_header(path, budget=10**6).rows == 64


def test_truncated_native_pixel_data(tmp_path: Path) -> None:
    ds = make_dataset(PIXELS)
    ds.PixelData = ds.PixelData[:-100]
    error = _error(write_dataset(tmp_path, "short.dcm", ds), PixelDataSizeError)
    assert "PixelData (7FE0,0010)" in str(error) and "6044 bytes present" in str(error)


def test_file_cut_short_is_truncation(tmp_path: Path) -> None:
    path = write_dataset(tmp_path, "cut.dcm", make_dataset(PIXELS))
    path.write_bytes(path.read_bytes()[:-1000])
    _error(path, PixelDataSizeError)


def test_not_dicom_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not DICOM\n" * 20)
    _error(text, NotDicomError)
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    _error(empty, NotDicomError)
    _error(tmp_path / "absent.dcm", NotDicomError)


def test_no_pixel_data(tmp_path: Path) -> None:
    ds = make_dataset(PIXELS)
    del ds.PixelData
    error = _error(write_dataset(tmp_path, "sr.dcm", ds), NoPixelDataError)
    assert "(7FE0,0010)" in str(error)


def test_mammography_attributes(tmp_path: Path) -> None:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "399368009", "SCT"
    code.CodeMeaning = "medio-lateral oblique"
    ds = make_dataset(
        PIXELS,
        Laterality="R",
        ViewCodeSequence=Sequence([code]),
        ImagerPixelSpacing=[0.07, 0.07],
        WindowCenter=[2048, 1500],
        WindowWidth=[4096, 1000],
        WindowCenterWidthExplanation=["FULL", "DENSE"],
        VOILUTFunction="SIGMOID",
        PresentationIntentType="FOR PROCESSING",
        LossyImageCompression="01",
        PresentationLUTShape="IDENTITY",
    )
    header = read_header(write_dataset(tmp_path, "mlo.dcm", ds))
    assert (header.laterality, header.view_position) == ("R", "MLO")
    assert header.pixel_spacing == (0.07, 0.07)
    assert [(w.center, w.width, w.explanation) for w in header.windows] == [
        (2048.0, 4096.0, "FULL"),
        (1500.0, 1000.0, "DENSE"),
    ]
    assert all(w.function is VoiFunction.SIGMOID for w in header.windows)
    assert header.presentation_intent == "FOR PROCESSING" and header.lossy_compressed
    assert header.is_grayscale and not header.is_monochrome1


def test_image_laterality_wins_and_view_position(tmp_path: Path) -> None:
    ds = make_dataset(
        PIXELS,
        ImageLaterality="L",
        Laterality="R",
        ViewPosition="CC",
        PixelSpacing=[0.1, 0.2],
        ImagerPixelSpacing=[0.07, 0.07],
    )
    header = read_header(write_dataset(tmp_path, "cc.dcm", ds))
    assert (header.laterality, header.view_position) == ("L", "CC")
    assert header.pixel_spacing == (0.1, 0.2)
    assert not header.lossy_compressed and header.presentation_intent == ""


def test_invalid_windows_are_dropped_not_fatal(tmp_path: Path) -> None:
    ds = make_dataset(PIXELS, WindowCenter=[100, 200], WindowWidth=[0, 50])
    header = read_header(write_dataset(tmp_path, "w.dcm", ds))
    assert [(w.center, w.width) for w in header.windows] == [(200.0, 50.0)]


def test_read_dataset_has_no_pixels(tmp_path: Path) -> None:
    ds = read_dataset(write_dataset(tmp_path, "t.dcm", make_dataset(PIXELS)))
    assert "PixelData" not in ds and ds.Rows == 64


def test_errors_pickle_round_trip(tmp_path: Path) -> None:
    import pickle

    error = InvalidAttributeError(
        tmp_path / "a.dcm", "invalid value", tag="Rows (0028,0010)", value=0, expected="1..65535"
    )
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InvalidAttributeError and str(again) == str(error)
    assert again.path == error.path and again.value == 0


def test_large_non_dicom_file_is_not_force_parsed(tmp_path: Path) -> None:
    """Random bytes are refused from their first tag, never read as a raw dataset."""
    junk = tmp_path / "video.bin"
    junk.write_bytes(np.random.default_rng(0).integers(0, 255, 1 << 20, dtype=np.uint8).tobytes())
    _error(junk, NotDicomError)


def test_raw_dataset_without_meta_is_read(tmp_path: Path) -> None:
    """A dataset without preamble and file meta (implicit VR little endian) is readable."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset as write_raw

    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_raw(buffer, make_dataset(PIXELS))
    path = tmp_path / "raw.dcm"
    path.write_bytes(buffer.getvalue())
    header = read_header(path)
    assert header.rows == 64 and header.transfer_syntax_uid == "1.2.840.10008.1.2"
    from viewer.dicomio import load_image

    np.testing.assert_array_equal(load_image(path).stored[0], PIXELS)

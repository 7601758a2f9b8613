"""Every file of pydicom's test files and pydicom-data, one test each: loads and renders, matches
pydicom's reference VOI where the file has a window or VOI LUT, or raises its pinned typed error.

Reference 8-bit scaling: pydicom `apply_modality_lut`, then `apply_windowing` (output range
[y_min, y_max] exactly as pydicom derives it from BitsStored, PixelRepresentation, the Modality
LUT and Rescale) mapped as rint(255 * (y - y_min) / (y_max - y_min)), or `apply_voi` mapped as
rint(255 * y / (2**LUTDescriptor[2] - 1)); inverted (255 - v) for MONOCHROME1 or INVERSE.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels.processing import apply_modality_lut, apply_voi, apply_windowing

from tests.dicomio.conftest import PYDICOM_FILES, pydicom_data_folder
from tests.dicomio.corpus_reference import SAME_PIXELS, expected_error
from viewer.dicomio import (
    DecoderPool,
    ModalityImage,
    VoiSetting,
    default_voi,
    load_image,
    render_display,
)

ROOTS = {"pydicom": PYDICOM_FILES, "pydicom-data": pydicom_data_folder()}


def corpus() -> dict[str, Path]:
    files = {}
    for key, root in ROOTS.items():
        if root is None:
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if "__pycache__" not in path.parts and path.suffix != ".py":
                files[f"{key}/{path.relative_to(root).as_posix()}"] = path
    return files


CORPUS = corpus()


def test_corpus_is_there() -> None:
    """Both corpora are installed (pydicom-data as package data_store); nothing is downloaded."""
    assert ROOTS["pydicom-data"] is not None
    assert sum(key.startswith("pydicom/") for key in CORPUS) > 100
    assert sum(key.startswith("pydicom-data/") for key in CORPUS) > 50


def _output_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """[y_min, y_max] of pydicom's apply_windowing (see its source, PS3.3 C.11.2.1.2)."""
    if ds.get("ModalityLUTSequence"):
        y_min, y_max = 0.0, 2.0 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1
    elif ds.PixelRepresentation == 0:
        y_min, y_max = 0.0, 2.0**ds.BitsStored - 1
    else:
        y_min, y_max = -(2.0 ** (ds.BitsStored - 1)), 2.0 ** (ds.BitsStored - 1) - 1
    if ds.get("RescaleSlope") is not None and ds.get("RescaleIntercept") is not None:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        y_min, y_max = y_min * slope + intercept, y_max * slope + intercept
    return y_min, y_max


def _file_window_index(ds: pydicom.Dataset, center: float, width: float) -> int:
    centers = ds.WindowCenter if ds["WindowCenter"].VM > 1 else [ds.WindowCenter]
    widths = ds.WindowWidth if ds["WindowWidth"].VM > 1 else [ds.WindowWidth]
    pairs = [(float(c), float(w)) for c, w in zip(centers, widths, strict=False)]
    return pairs.index((center, width))


def reference_8bit(ds: pydicom.Dataset, image: ModalityImage, voi: VoiSetting) -> np.ndarray:
    """pydicom's rendering of frame 0 with `voi`, scaled to 8 bits as the module docstring says."""
    stored = ds.pixel_array
    stored = stored[0] if image.header.number_of_frames > 1 else stored
    modality = apply_modality_lut(stored, ds)
    if voi.window is not None:
        index = _file_window_index(ds, voi.window.center, voi.window.width)
        y_min, y_max = _output_range(ds)
        unit = (apply_windowing(modality, ds, index) - y_min) / (y_max - y_min)
    else:
        bits = ds.VOILUTSequence[voi.lut_index].LUTDescriptor[2]
        unit = apply_voi(modality, ds, voi.lut_index) / (2.0**bits - 1)
    out = np.rint(np.clip(unit, 0, 1) * 255).astype(np.uint8)
    inverted = image.header.is_monochrome1 or image.header.presentation_lut_shape == "INVERSE"
    return 255 - out if inverted else out


@pytest.fixture(autouse=True)
def _quiet_pydicom() -> None:
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("file_id", sorted(CORPUS))
def test_corpus_file(file_id: str, pool: DecoderPool) -> None:
    path = CORPUS[file_id]
    error = expected_error(file_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns loudly about these files
        if error is not None:
            with pytest.raises(error) as caught:
                load_image(path, pool)
            message = str(caught.value)
            assert "\n" not in message and str(path) in message
            return
        image = load_image(path, pool)
        _check_image(file_id, image)


def _check_image(file_id: str, image: ModalityImage) -> None:
    header = image.header
    shown = render_display(image, default_voi(image))
    assert shown.dtype == np.uint8
    assert shown.shape[:2] == (header.rows, header.columns)
    assert image.stored.shape[0] == header.number_of_frames
    if file_id in SAME_PIXELS:
        other = load_image(CORPUS[SAME_PIXELS[file_id]])
        np.testing.assert_array_equal(image.stored, other.stored)
    if not header.is_grayscale:
        assert shown.shape[2] == 3
        return
    presets = [VoiSetting(window=w) for w in header.windows]
    presets += [VoiSetting(lut_index=i) for i in range(len(header.voi_luts))]
    if not presets:
        return
    ds = pydicom.dcmread(header.path, force=True)
    for voi in presets:
        ours = render_display(image, voi).astype(np.int16)
        reference = reference_8bit(ds, image, voi).astype(np.int16)
        difference = float(np.abs(ours - reference).mean())
        assert difference <= 1.0, f"{file_id} {voi}: mean |diff| {difference:.3f} gray levels"


def test_reference_comparison_can_fail() -> None:
    """The <= 1 gray level criterion catches a wrong presentation (here an extra inversion)."""
    path = CORPUS["pydicom-data/RG1_UNCR.dcm"]
    image = load_image(path)
    voi = default_voi(image)
    reference = reference_8bit(pydicom.dcmread(path), image, voi).astype(np.int16)
    right = render_display(image, voi).astype(np.int16)
    wrong = render_display(image, voi, invert=True).astype(np.int16)
    assert np.abs(right - reference).mean() <= 1.0
    assert np.abs(wrong - reference).mean() > 50.0


def test_corpus_has_many_reference_images() -> None:
    """Enough files carry a window or VOI LUT for the comparison to mean something."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from viewer.dicomio import DicomInputError, read_header

        count, luts, monochrome1 = 0, 0, 0
        for path in CORPUS.values():
            try:
                header = read_header(path)
            except DicomInputError:
                continue
            count += bool(header.windows or header.voi_luts)
            luts += bool(header.voi_luts)
            monochrome1 += header.is_monochrome1 and bool(header.windows)
    assert count >= 40 and luts >= 1 and monochrome1 >= 4

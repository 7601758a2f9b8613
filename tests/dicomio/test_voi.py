"""Pixel pipeline (PS3.3 C.11): modality, VOI (windows, VOI LUT), presentation, AI input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut, apply_windowing
from pydicom.sequence import Sequence

from tests.dicomio.conftest import PYDICOM_FILES, make_dataset, pydicom_data_folder, write_dataset
from viewer.dicomio import (
    VoiFunction,
    VoiSetting,
    VoiWindow,
    ai_input,
    auto_window,
    default_voi,
    display_lut,
    load_image,
    render_display,
)

RNG = np.random.default_rng(7)
SIGNED = RNG.integers(-2048, 2047, size=(40, 50), dtype=np.int16)
UNSIGNED = RNG.integers(0, 4095, size=(40, 50), dtype=np.uint16)


def _write(tmp_path: Path, pixels: np.ndarray, **attrs: object) -> Path:
    ds = make_dataset(pixels, **attrs)
    ds.BitsStored, ds.HighBit = 12, 11
    return write_dataset(tmp_path, "img.dcm", ds)


@pytest.mark.parametrize("function", list(VoiFunction))
@pytest.mark.parametrize("pixels", [SIGNED, UNSIGNED], ids=["signed", "unsigned"])
def test_window_functions_match_pydicom(
    tmp_path: Path, function: VoiFunction, pixels: np.ndarray
) -> None:
    path = _write(
        tmp_path,
        pixels,
        RescaleSlope=2,
        RescaleIntercept=-100,
        WindowCenter=300,
        WindowWidth=1500,
        VOILUTFunction=function.value,
    )
    image = load_image(path)
    ds = pydicom.dcmread(path)
    out = apply_windowing(apply_modality_lut(ds.pixel_array, ds), ds)
    low = (-(2**11) if pixels.dtype.kind == "i" else 0) * 2 - 100
    high = ((2**11 - 1) if pixels.dtype.kind == "i" else 4095) * 2 - 100
    expected = np.rint((out - low) / (high - low) * 255).astype(np.int16)
    voi = default_voi(image)
    assert voi.window == VoiWindow(300.0, 1500.0, "Window 1", function)
    shown = render_display(image, voi).astype(np.int16)
    assert np.abs(shown - expected).max() <= 1
    assert np.abs(shown - expected).mean() < 0.05


def test_display_lut_is_the_whole_pipeline(tmp_path: Path) -> None:
    path = _write(
        tmp_path, SIGNED, RescaleSlope=0.5, RescaleIntercept=10, WindowCenter=0, WindowWidth=400
    )
    image = load_image(path)
    offset, lut = display_lut(image, default_voi(image))
    assert offset == -32768 and lut.shape == (65536,) and lut.dtype == np.uint8
    np.testing.assert_array_equal(
        lut[SIGNED.astype(np.int64) - offset], render_display(image, default_voi(image))
    )
    # monotone non-decreasing for a MONOCHROME2 window, 0 below and 255 above
    assert np.all(np.diff(lut.astype(int)) >= 0) and lut[0] == 0 and lut[-1] == 255


@pytest.mark.parametrize(
    ("photometric", "shape", "user", "inverted"),
    [
        ("MONOCHROME2", "", False, False),
        ("MONOCHROME2", "INVERSE", False, True),
        ("MONOCHROME1", "", False, True),
        ("MONOCHROME1", "INVERSE", False, True),  # same fact stated twice: one inversion
        ("MONOCHROME1", "", True, False),
        ("MONOCHROME2", "", True, True),
    ],
)
def test_presentation_inversion(
    tmp_path: Path, photometric: str, shape: str, user: bool, inverted: bool
) -> None:
    attrs: dict = {
        "PhotometricInterpretation": photometric,
        "WindowCenter": 2048,
        "WindowWidth": 4096,
    }
    if shape:
        attrs["PresentationLUTShape"] = shape
    image = load_image(_write(tmp_path, UNSIGNED, **attrs))
    shown = render_display(image, default_voi(image), invert=user).astype(int)
    plain = np.rint(np.clip((UNSIGNED - 2047.5) / 4095 + 0.5, 0, 1) * 255).astype(int)
    np.testing.assert_array_equal(shown, 255 - plain if inverted else plain)


def _voi_lut_item(first: int, data: list[int], bits: int) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(data), first, bits]
    item.LUTData = data
    item["LUTData"].VR = "US"
    item.LUTExplanation = "TEST LUT"
    return item


def test_voi_lut_sequence(tmp_path: Path) -> None:
    data = [int(v) for v in np.linspace(0, 1023, 256) ** 2 / 1023]
    path = _write(tmp_path, UNSIGNED, VOILUTSequence=Sequence([_voi_lut_item(1000, data, 10)]))
    image = load_image(path)
    voi = default_voi(image)
    assert voi == VoiSetting(lut_index=0)
    assert image.header.voi_luts[0].explanation == "TEST LUT"
    shown = render_display(image, voi).astype(int)
    index = np.clip(UNSIGNED.astype(int) - 1000, 0, 255)
    expected = np.rint(np.asarray(data)[index] / 1023 * 255).astype(int)
    np.testing.assert_array_equal(shown, expected)


def test_window_preferred_over_voi_lut(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        UNSIGNED,
        WindowCenter=100,
        WindowWidth=50,
        VOILUTSequence=Sequence([_voi_lut_item(0, [0, 255], 8)]),
    )
    voi = default_voi(load_image(path))
    assert voi.window is not None and voi.window.center == 100


def test_modality_lut_matches_pydicom() -> None:
    path = pydicom_data_folder() / "mlut_18.dcm"
    image = load_image(path)
    ds = pydicom.dcmread(path)
    assert image.header.has_modality_lut
    np.testing.assert_array_equal(image.values(), apply_modality_lut(ds.pixel_array, ds))
    stored = int(image.stored[0, 100, 100])
    assert image.stored_to_modality(stored) == float(image.values()[100, 100])


def test_values_are_lazy_cached_read_only(tmp_path: Path) -> None:
    image = load_image(_write(tmp_path, SIGNED, RescaleSlope=2, RescaleIntercept=-1))
    values = image.values()
    assert values is image.values() and values.dtype == np.float32
    assert not values.flags.writeable and not image.stored.flags.writeable
    np.testing.assert_array_equal(values, SIGNED.astype(np.float32) * 2 - 1)


def test_voi_setting_needs_exactly_one() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        VoiSetting()
    with pytest.raises(ValueError, match="exactly one"):
        VoiSetting(window=VoiWindow(1, 2), lut_index=0)


def _mammogram_like(monochrome1: bool) -> np.ndarray:
    """Background (air) on 60 % of the image, 'breast' values 1500..2500 elsewhere."""
    pixels = np.full((200, 100), 50, np.uint16)
    pixels[:, :40] = RNG.integers(1500, 2500, size=(200, 40), dtype=np.uint16)
    return (4095 - pixels).astype(np.uint16) if monochrome1 else pixels


@pytest.mark.parametrize("monochrome1", [False, True])
def test_auto_window_ignores_background(tmp_path: Path, monochrome1: bool) -> None:
    pixels = _mammogram_like(monochrome1)
    photometric = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    image = load_image(_write(tmp_path, pixels, PhotometricInterpretation=photometric))
    window = auto_window(image)
    low, high = window.center - window.width / 2, window.center + window.width / 2
    breast = (1500, 2500) if not monochrome1 else (4095 - 2500, 4095 - 1500)
    assert breast[0] - 20 <= low and high <= breast[1] + 20
    assert window.width > 800
    assert default_voi(image).window == window  # no window in the file: automatic


def test_ai_input_dense_is_bright(tmp_path: Path) -> None:
    pixels = _mammogram_like(monochrome1=True)
    image = load_image(
        _write(
            tmp_path,
            pixels,
            PhotometricInterpretation="MONOCHROME1",
            RescaleSlope=1,
            RescaleIntercept=0,
        )
    )
    values = ai_input(image)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, 4095 - pixels.astype(np.float32))
    assert values[:, :40].mean() > values[:, 60:].mean()
    plain = load_image(_write(tmp_path, _mammogram_like(False)))
    assert ai_input(plain) is plain.values()


def test_color_images_render_rgb() -> None:
    image = load_image(PYDICOM_FILES / "SC_rgb_small_odd.dcm")
    shown = render_display(image, default_voi(image))
    ds = pydicom.dcmread(PYDICOM_FILES / "SC_rgb_small_odd.dcm")
    np.testing.assert_array_equal(shown, ds.pixel_array)
    np.testing.assert_array_equal(
        render_display(image, default_voi(image), invert=True), 255 - ds.pixel_array
    )
    offset, lut = display_lut(image, default_voi(image), invert=True)
    assert offset == 0 and lut[0] == 255 and lut[255] == 0


def test_float_pixel_data_renders_from_values(tmp_path: Path) -> None:
    from viewer.dicomio import InvalidAttributeError

    pixels = np.linspace(-1, 1, 64 * 48, dtype=np.float32).reshape(64, 48)
    ds = make_dataset(pixels.view(np.uint32))
    for keyword in ("PixelData", "BitsStored", "HighBit", "PixelRepresentation"):
        delattr(ds, keyword)
    ds.FloatPixelData = pixels.tobytes()
    image = load_image(write_dataset(tmp_path, "float.dcm", ds))
    np.testing.assert_array_equal(image.stored[0], pixels)
    voi = VoiSetting(window=VoiWindow(0.0, 2.0, "", VoiFunction.LINEAR_EXACT))
    shown = render_display(image, voi).astype(int)
    np.testing.assert_array_equal(shown, np.rint(np.clip(pixels / 2 + 0.5, 0, 1) * 255))
    with pytest.raises(InvalidAttributeError, match=r"FloatPixelData \(7FE0,0008\)"):
        display_lut(image, voi)


def test_bits_above_bits_stored_are_not_part_of_the_value(tmp_path: Path) -> None:
    """Old files keep overlays in the unused high bits: they are masked off (PS3.5 8.1.1)."""
    dirty = UNSIGNED | np.uint16(0x8000)
    image = load_image(_write(tmp_path, dirty, WindowCenter=2048, WindowWidth=4096))
    np.testing.assert_array_equal(image.stored[0], UNSIGNED)


def test_auto_window_ignores_burned_in_text(tmp_path: Path) -> None:
    """Text drawn at the maximum value (2 % of the breast here) does not stretch the window."""
    pixels = _mammogram_like(monochrome1=False)
    pixels[5:25, 5:25] = 4095
    image = load_image(_write(tmp_path, pixels))
    window = auto_window(image)
    assert window.center + window.width / 2 <= 2520

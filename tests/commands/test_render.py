"""`mammolens render` via subprocess: exact render_display pixels as PNG, exit 2 on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from tests.dicomio.conftest import PYDICOM_FILES, pydicom_data_folder
from viewer.dicomio import VoiSetting, VoiWindow, default_voi, load_image, render_display

ROOT = Path(__file__).resolve().parents[2]


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "viewer.cli", "render", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _png(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


@pytest.mark.timeout(150)
@pytest.mark.parametrize("name", ["RG1_J2KR.dcm", "US1_J2KR.dcm"])
def test_render_writes_exactly_the_viewer_pixels(tmp_path: Path, name: str) -> None:
    source = pydicom_data_folder() / name
    out = tmp_path / "out.png"
    proc = _render(str(source), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    image = load_image(source)
    np.testing.assert_array_equal(_png(out), render_display(image, default_voi(image)))


@pytest.mark.timeout(150)
def test_render_window_frame_and_voi_options(tmp_path: Path) -> None:
    source = pydicom_data_folder() / "emri_small.dcm"
    out = tmp_path / "w.png"
    proc = _render(str(source), "-o", str(out), "--frame", "3", "--window", "300", "200")
    assert proc.returncode == 0, proc.stderr
    image = load_image(source)
    expected = render_display(image, VoiSetting(window=VoiWindow(300, 200)), frame=3)
    np.testing.assert_array_equal(_png(out), expected)
    lut_source = pydicom_data_folder() / "vlut_04.dcm"
    proc = _render(str(lut_source), "-o", str(out), "--voi", "0")
    assert proc.returncode == 0, proc.stderr
    lut_image = load_image(lut_source)
    np.testing.assert_array_equal(_png(out), render_display(lut_image, VoiSetting(lut_index=0)))


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([str(PYDICOM_FILES / "rtplan.dcm")], "no pixel data"),
        ([str(PYDICOM_FILES / "MR_truncated.dcm")], "truncated"),
        ([str(PYDICOM_FILES / "JPEG2000-embedded-sequence-delimiter.dcm")], "no decoder"),
        ([str(PYDICOM_FILES / "README.txt")], "not a DICOM file"),
        ([str(PYDICOM_FILES / "MR_small.dcm"), "--frame", "5"], "no such frame"),
        ([str(PYDICOM_FILES / "MR_small.dcm"), "--voi", "9"], "no such VOI preset"),
        (["--bogus"], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "x.png"
    proc = _render(*args, "-o", str(out)) if args != ["--bogus"] else _render(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()

"""`mammolens analyze`: outputs per image, failures reported, batch goes on, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from inference import Analyzer, Result
from tests.inference.testmodels import mammogram
from viewer import resources
from viewer.commands import analyze
from viewer.commands.png import write_png


def _fake_loader(path: Path) -> analyze.LoadedImage:
    if "bad" in path.name:
        raise ValueError(f"{path}: not a mammogram")
    laterality = "R" if "R" in path.stem else "L"
    values = mammogram(laterality, lesion_rc=(400, 300 if laterality == "L" else 531))
    display = np.clip(values / 8, 0, 255).astype(np.uint8)
    return analyze.LoadedImage(values, 0.07, laterality, "CC", "1.2.3." + path.stem, display)


def test_batch_writes_json_and_png_and_goes_on_after_a_bad_file(
    analyzer: Analyzer, tmp_path: Path
) -> None:
    files = [Path("a/L_cc.dcm"), Path("bad.dcm"), Path("b/R_cc.dcm"), Path("c/R_cc.dcm")]
    lines: list[str] = []
    failures = analyze.run_batch(files, analyzer, tmp_path, _fake_loader, lines.append)
    assert failures == 1
    assert len(lines) == 4 and "FAILED" in lines[1] and "not a mammogram" in lines[1]
    assert lines[0].startswith("[1/4] a/L_cc.dcm: fused score")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["L_cc.json", "L_cc.png", "R_cc-2.json", "R_cc-2.png", "R_cc.json", "R_cc.png"]
    data = json.loads((tmp_path / "R_cc.json").read_text())
    assert data["source_path"] == "b/R_cc.dcm" and data["sop_instance_uid"] == "1.2.3.R_cc"
    result = Result.from_json((tmp_path / "R_cc.json").read_text())
    assert result.crops[0].box[0] <= 400 < result.crops[0].box[2]
    png = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "R_cc.png")))
    assert png.shape[1:] == (832, 3) and 1024 < png.shape[0] < 1100  # image + caption band
    assert png[1024:].max() == 255  # the caption is written
    r0, c0, _, _ = result.crops[0].box
    assert tuple(png[r0, c0 + 10]) == (255, 40, 40)  # the top crop's box is drawn in red


def test_write_png_round_trips(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    write_png(rgb, tmp_path / "x.png")
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "x.png"))), rgb)


def test_resources_dir_in_checkout_and_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resources.resources_dir() == Path(__file__).resolve().parents[2] / "resources"
    monkeypatch.setattr(sys, "_MEIPASS", "/opt/bundle", raising=False)
    assert resources.default_model_dir() == Path(
        "/opt/bundle/resources/models/mammolens-gmic-synthetic"
    )


def test_unusable_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = analyze.main([str(tmp_path), "--out", str(tmp_path / "out"), "--model", str(tmp_path)])
    assert code == 2
    assert "cannot use model" in capsys.readouterr().err


def test_folder_without_dicom_exits_1(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    args = [str(tmp_path), "--out", str(tmp_path / "out"), "--model", str(model_dir)]
    assert analyze.main([*args, "--device", "cpu"]) == 1
    assert "no DICOM files" in capsys.readouterr().err


def test_write_png_refuses_what_is_not_8_bit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        write_png(np.zeros((4, 4), np.uint16), tmp_path / "x.png")

"""`mammolens analyze` on DICOM files through viewer.dicomio (demo study + a broken file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference import Result
from viewer.commands import analyze


def test_dicom_files_end_to_end(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from viewer.dicomio import synthetic

    study = synthetic.write_demo_study(tmp_path / "study", seed=7)
    (tmp_path / "study" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    out = tmp_path / "out"
    args = [str(tmp_path / "study"), "--out", str(out), "--model", str(model_dir)]
    code = analyze.main([*args, "--device", "cpu", "--top-k", "3"])
    err = capsys.readouterr().err
    assert code == 1 and "broken.dcm: FAILED" in err
    assert err.count("fused score") == len(study.image_paths) == 4
    results = [Result.from_json(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert len(results) == 4 and all(len(r.crops) == 3 for r in results)
    assert {r.laterality for r in results} == {"L", "R"}

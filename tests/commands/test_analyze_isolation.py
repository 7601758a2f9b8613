"""`mammolens analyze` decodes compressed files in the isolated pool: a crashing codec costs that
file only, and the batch goes on (the README's promise for every reader of untrusted files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pydicom
from pydicom.uid import JPEG2000Lossless

from tests.inference.testmodels import write_model
from tests.qt.dicom_factory import breast_pixels, write_mg


def test_a_crashing_codec_fails_one_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    plain = write_mg(tmp_path / "in" / "plain.dcm", breast_pixels(512, 416), laterality="L")
    packed = write_mg(tmp_path / "in" / "packed.dcm", breast_pixels(512, 416, seed=1))
    ds = pydicom.dcmread(packed)
    ds.compress(JPEG2000Lossless)
    ds.save_as(packed)
    model = write_model(tmp_path / "model")
    env = {**os.environ, "MAMMOLENS_DECODER_FAULT": "segfault"}  # read by the decoder workers
    proc = subprocess.run(
        [sys.executable, "-m", "viewer", "analyze", str(tmp_path / "in"),
         "--out", str(tmp_path / "out"), "--model", str(model)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "packed.dcm" in proc.stderr and "1 analysed, 1 failed" in proc.stderr
    results = list((tmp_path / "out").glob("*.json"))
    assert len(results) == 1
    assert json.loads(results[0].read_text())["provenance"]["sop_instance_uid"] == str(
        pydicom.dcmread(plain, stop_before_pixels=True).SOPInstanceUID
    )

"""The inference benchmark runs end to end (one run) and prints every figure it promises."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("pytorch_grad_cam")
pytestmark = [pytest.mark.train, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def _bench_module(monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "bench_inference", ROOT / "benchmarks" / "bench_inference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_inference", module)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the benchmark prepends the repository
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def torch_threads():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the benchmark sets its own


def test_bench_inference_prints_stages_and_the_pytorch_ratios(capsys, monkeypatch, torch_threads):
    assert _bench_module(monkeypatch).main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    for stage in ("segmentation", "preprocess", "global_model", "patch_model", "heatmaps"):
        assert re.search(rf"^  {stage}\s+\d+\.\d\s+\d+\.\d$", out, re.M), stage
    assert re.search(r"whole analysis: MammoLens is \d+\.\dx faster", out)
    assert re.search(r"without the shared preprocessing .* \d+\.\dx$", out, re.M)
    assert re.search(r"models \+ Grad-CAM maps only .*: PyTorch .* \d+\.\dx$", out, re.M)
    assert re.search(r"forward passes alone .*: PyTorch .* \d+\.\dx$", out, re.M)
    difference = float(re.search(r"max \|difference\| vs MammoLens: (\S+)", out).group(1))
    assert difference <= 1e-4  # the PyTorch side ran the same weights

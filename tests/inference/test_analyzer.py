"""The whole pipeline on small test models: coordinates, determinism, providers, cancellation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from inference import (
    AnalysisCancelledError,
    Analyzer,
    Device,
    DeviceError,
    Result,
    Stage,
    fuse_views,
)
from tests.inference.testmodels import mammogram, write_model

HP = [{"kind": "intensity"}, {"kind": "highpass_max", "sigma_mm": 0.5, "scale": 2.0}]


def _contains(box: tuple[int, int, int, int], rc: tuple[int, int]) -> bool:
    return box[0] <= rc[0] < box[2] and box[1] <= rc[1] < box[3]


@pytest.mark.parametrize("view", ["CC", "MLO"])
@pytest.mark.parametrize("laterality", ["L", "R"])
@pytest.mark.parametrize("depth", [180, 420])
def test_top_crop_contains_the_lesion(
    analyzer: Analyzer, laterality: str, view: str, depth: int
) -> None:
    cols = 832
    lesion = (620, depth if laterality == "L" else cols - 1 - depth)
    image = mammogram(laterality, view, lesion_rc=lesion, seed=depth)
    result = analyzer.analyze(image, pixel_spacing_mm=0.07, laterality=laterality, view=view)
    top = result.crops[0]
    assert top.rank == 1 and _contains(top.box, lesion)
    assert top.box[2] - top.box[0] == top.box[3] - top.box[1] == 64
    assert top.score == max(c.score for c in result.crops)
    # the crop heatmap (original orientation) peaks on the lesion, too
    peak = np.unravel_index(np.argmax(top.heatmap.values), top.heatmap.values.shape)
    assert abs(top.box[0] + peak[0] - lesion[0]) <= 16
    assert abs(top.box[1] + peak[1] - lesion[1]) <= 16
    # the global heatmap, stretched over its box, peaks near the lesion
    g = result.global_heatmap
    gr, gc = np.unravel_index(np.argmax(g.values), g.values.shape)
    scale_r = (g.box[2] - g.box[0]) / g.values.shape[0]
    scale_c = (g.box[3] - g.box[1]) / g.values.shape[1]
    assert abs(g.box[0] + (gr + 0.5) * scale_r - lesion[0]) <= 24
    assert abs(g.box[1] + (gc + 0.5) * scale_c - lesion[1]) <= 24


def test_boxes_stay_inside_the_image_near_the_border(analyzer: Analyzer) -> None:
    lesion = (1010, 5)
    image = mammogram("L", "CC", lesion_rc=lesion)
    result = analyzer.analyze(image, pixel_spacing_mm=0.07, laterality="L", view="CC")
    for crop in result.crops:
        r0, c0, r1, c1 = crop.box
        assert 0 <= r0 < r1 <= 1024 and 0 <= c0 < c1 <= 832
    assert len(result.crops) == 6
    assert len({c.box for c in result.crops}) == 6


def test_two_runs_are_bit_identical_on_cpu(tmp_path: Path) -> None:
    analyzer = Analyzer(write_model(tmp_path / "hp", channels=HP), Device.CPU)
    image = mammogram("R", "MLO", lesion_rc=(300, 600))
    first = analyzer.analyze(image, pixel_spacing_mm=0.07, laterality="R", view="MLO")
    second = analyzer.analyze(image, pixel_spacing_mm=0.07, laterality="R", view="MLO")
    a, b = first.to_dict(), second.to_dict()
    a.pop("timings_ms"), b.pop("timings_ms")
    assert a == b
    assert first.global_logit == second.global_logit
    assert np.array_equal(first.global_heatmap.values, second.global_heatmap.values)
    for x, y in zip(first.crops, second.crops, strict=True):
        assert x.logit == y.logit and np.array_equal(x.heatmap.values, y.heatmap.values)


def test_json_round_trip(analyzer: Analyzer) -> None:
    image = mammogram("L", "CC")
    result = analyzer.analyze(
        image, pixel_spacing_mm=0.07, laterality="L", view="CC", sop_instance_uid="1.2.3"
    )
    text = result.to_json()
    back = Result.from_json(text)
    assert back.to_json() == text
    assert back.crops[0].box == result.crops[0].box and back.fused_score == result.fused_score
    diff = np.abs(back.global_heatmap.values - result.global_heatmap.values).max()
    assert diff == 0
    assert back.provenance == result.provenance
    assert len(text) < 100_000


def test_provenance_names_model_pixels_and_runtime(analyzer: Analyzer, model_dir: Path) -> None:
    image = mammogram("L", "CC")
    result = analyzer.analyze(
        image, pixel_spacing_mm=0.07, laterality="L", view="CC", sop_instance_uid="1.2.840.1"
    )
    p = result.provenance
    assert p.input_sha256 == hashlib.sha256(image.tobytes()).hexdigest()
    assert (
        p.global_model_sha256
        == hashlib.sha256((model_dir / "global.onnx").read_bytes()).hexdigest()
    )
    assert p.model_name == "test-model" and p.onnxruntime_version == ort.__version__
    assert p.sop_instance_uid == "1.2.840.1" and p.provider == "CPUExecutionProvider"
    assert p.preprocessing["shrink_factor"] == 4 and p.preprocessing["flipped"] is False
    expected = {"segmentation", "preprocess", "global_model", "crops", "patch_model", "heatmaps"}
    assert expected <= set(result.timings_ms)
    assert result.warnings == ()


def test_progress_reports_each_stage_in_order(analyzer: Analyzer) -> None:
    seen: list[Stage] = []
    analyzer.analyze(
        mammogram(), pixel_spacing_mm=0.07, laterality="L", view="CC", progress=seen.append
    )
    assert seen == [Stage.SEGMENTING, Stage.GLOBAL_MODEL, Stage.CROPS, Stage.HEATMAPS, Stage.DONE]


@pytest.mark.parametrize("after", [0, 1, 2, 3])
def test_cancellation_between_stages(analyzer: Analyzer, after: int) -> None:
    seen: list[Stage] = []
    with pytest.raises(AnalysisCancelledError):
        analyzer.analyze(
            mammogram(),
            pixel_spacing_mm=0.07,
            laterality="L",
            view="CC",
            progress=seen.append,
            cancelled=lambda: len(seen) >= after,
        )
    assert len(seen) == after


def test_cam_without_positive_evidence_gives_all_zero_heatmap(tmp_path: Path) -> None:
    analyzer = Analyzer(write_model(tmp_path / "neg", global_offset=1e6), Device.CPU)
    result = analyzer.analyze(mammogram(), pixel_spacing_mm=0.07, laterality="L", view="CC")
    assert result.global_heatmap.all_zero
    assert np.count_nonzero(result.global_heatmap.values) == 0
    assert not result.crops[0].heatmap.all_zero


def test_spacing_mismatch_is_warned(analyzer: Analyzer) -> None:
    result = analyzer.analyze(mammogram(), pixel_spacing_mm=0.1, laterality="L", view="CC")
    assert any("pixel spacing" in w for w in result.warnings)


def test_image_smaller_than_the_grid(analyzer: Analyzer) -> None:
    image = mammogram("R", "CC", shape=(200, 150), lesion_rc=(100, 120), label=False)
    result = analyzer.analyze(image, pixel_spacing_mm=0.07, laterality="R", view="CC")
    assert result.provenance.preprocessing["shrink_factor"] == 1
    assert _contains(result.crops[0].box, (100, 120))


def test_cpu_device_uses_cpu(analyzer: Analyzer) -> None:
    assert analyzer.provider == "CPUExecutionProvider"


def _cuda_really_works() -> bool:
    return Path("/dev/nvidiactl").exists() and "CUDAExecutionProvider" in (
        ort.get_available_providers()
    )


def test_cuda_request_fails_clearly_without_a_working_gpu(model_dir: Path) -> None:
    if _cuda_really_works():
        assert Analyzer(model_dir, Device.CUDA).provider == "CUDAExecutionProvider"
        return
    with pytest.raises(DeviceError, match="cuda"):
        Analyzer(model_dir, Device.CUDA)


def test_auto_reports_the_provider_it_really_uses(model_dir: Path) -> None:
    expected = "CUDAExecutionProvider" if _cuda_really_works() else "CPUExecutionProvider"
    analyzer = Analyzer(model_dir, Device.AUTO)
    assert analyzer.provider == expected
    result = analyzer.analyze(mammogram(), pixel_spacing_mm=0.07, laterality="L", view="CC")
    assert result.provider == expected


def test_fuse_views_per_breast_and_exam(analyzer: Analyzer) -> None:
    results = [
        analyzer.analyze(
            mammogram(lat, view, lesion_rc=lesion), pixel_spacing_mm=0.07, laterality=lat, view=view
        )
        for lat, view, lesion in [
            ("L", "CC", (400, 300)),
            ("L", "MLO", None),
            ("R", "CC", None),
            ("R", "MLO", None),
        ]
    ]
    scores = fuse_views(results)
    assert scores.breasts["L"] == max(r.fused_score for r in results[:2])
    assert scores.breasts["R"] == max(r.fused_score for r in results[2:])
    assert scores.exam == max(scores.breasts.values())
    assert scores.breasts["L"] > scores.breasts["R"]


def test_heatmap_without_source_round_trips_as_float16() -> None:
    from inference import Heatmap

    values = np.random.default_rng(5).random((40, 30)).astype(np.float32)
    back = Heatmap.from_dict(Heatmap(values, (1, 2, 81, 62), False).to_dict())
    assert back.box == (1, 2, 81, 62) and back.source is None
    assert np.abs(back.values - values).max() < 5e-4

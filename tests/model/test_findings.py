"""Qt-free AI findings: identity checks, layers from a result, shared style, outline, texts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from inference import Analyzer, Device
from inference.manifest import OperatingPoint
from tests.inference.testmodels import mammogram, write_model
from viewer.model.evidence import (
    BreastMask,
    breast_mask,
    breast_outline,
    display_map,
    zoom_to_box,
)
from viewer.model.findings import (
    AiLayerStyle,
    AnalysisStatus,
    FindingsError,
    FindingsRegistry,
    ImageFindings,
    ImageIdentity,
    LayerKind,
    operating_point_text,
)
from viewer.model.layers import BoxesLayer, HeatmapLayer, LayerError, LayerList


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    return Analyzer(write_model(tmp_path_factory.mktemp("model")), Device.CPU)


def analyse(analyzer: Analyzer, laterality: str = "L", uid: str = "1.2.3"):
    values = mammogram(laterality=laterality, lesion_rc=(400, 300 if laterality == "L" else 530))
    result = analyzer.analyze(
        values, pixel_spacing_mm=0.07, laterality=laterality, view="CC", sop_instance_uid=uid
    )
    return values, result


def test_results_only_go_to_their_own_image(analyzer: Analyzer) -> None:
    values, result = analyse(analyzer)
    style, layers = AiLayerStyle(), LayerList()
    findings = ImageFindings(ImageIdentity("1.2.3", "/a.dcm"), layers, style)
    with pytest.raises(FindingsError, match=r"expected one of /a\.dcm"):
        findings.set_result(ImageIdentity("1.2.3", "/b.dcm", "ff"), result)
    other = dataclasses.replace(result, sop_instance_uid="9.9")
    with pytest.raises(FindingsError):
        findings.set_result(ImageIdentity("1.2.3", "/a.dcm"), other)
    assert not list(layers) and findings.result is None
    identity = ImageIdentity("1.2.3", "/a.dcm", result.provenance.input_sha256)
    findings.set_result(identity, result, breast_outline(values, result))
    assert findings.status is AnalysisStatus.DONE and findings.identity == identity
    names = [layer.name for layer in layers]
    assert names[0] == "AI global heatmap" and "AI crop boxes" in names
    assert "AI breast outline" in names and len(findings.layer(LayerKind.CROP_HEATMAPS)) == 6
    assert not ImageIdentity("1.2.3", "/a.dcm", "aa").same_image(identity)
    findings.detach()
    assert not list(layers)


def test_staged_attach_counts_as_shown_after_the_last_layer(analyzer: Analyzer) -> None:
    _, result = analyse(analyzer)
    findings = ImageFindings(ImageIdentity("1.2.3", "/a.dcm"), LayerList(), AiLayerStyle())
    seen: list[object] = []
    findings.result_changed.connect(seen.append)
    findings.set_result(ImageIdentity("1.2.3", "/a.dcm"), result, staged=True)
    assert findings.result is None and not list(findings.layers)
    steps = 1
    while findings.attach_next():
        steps += 1
    assert steps == len(list(findings.layers)) and findings.result is result and seen == [result]


def test_style_reaches_every_image_and_h_restores_what_was_shown(analyzer: Analyzer) -> None:
    _, result = analyse(analyzer)
    style, registry = AiLayerStyle(), FindingsRegistry()
    images = [ImageFindings(ImageIdentity("1.2.3", f"/{n}.dcm"), LayerList(), style) for n in "ab"]
    for findings in images:
        registry.add(findings)
        findings.set_result(findings.identity, result)
    style.opacity, style.threshold, style.colormap = 0.8, 0.5, "viridis"
    for findings in images:
        heat = findings.layer(LayerKind.GLOBAL_HEATMAP)[0]
        assert isinstance(heat, HeatmapLayer)
        assert (heat.opacity, heat.threshold, heat.colormap.value) == (0.8, 0.5, "viridis")
        assert not findings.layer(LayerKind.CROP_HEATMAPS)[0].visible  # off by default
    style.toggle_heatmaps()
    assert not any(f.layer(LayerKind.GLOBAL_HEATMAP)[0].visible for f in images)
    style.toggle_heatmaps()
    assert style.visible(LayerKind.GLOBAL_HEATMAP) and not style.visible(LayerKind.CROP_HEATMAPS)
    with pytest.raises(LayerError, match="expected one of viridis"):
        style.colormap = "jet"
    images[0].hovered_crop = 1
    boxes = images[0].layer(LayerKind.CROP_BOXES)[0]
    assert isinstance(boxes, BoxesLayer) and boxes.highlighted == 1
    with pytest.raises(FindingsError):
        images[0].selected_crop = 99
    scores = registry.exam_scores()
    assert scores is not None and scores.exam == pytest.approx(result.fused_score)


def test_all_zero_global_map_gives_no_overlay(analyzer: Analyzer) -> None:
    _, result = analyse(analyzer)
    heat = dataclasses.replace(result.global_heatmap, all_zero=True)
    zero = dataclasses.replace(result, global_heatmap=heat)
    findings = ImageFindings(ImageIdentity("1.2.3", "/a.dcm"), LayerList(), AiLayerStyle())
    findings.set_result(findings.identity, zero)
    assert findings.no_positive_evidence and not findings.layer(LayerKind.GLOBAL_HEATMAP)


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_breast_outline_follows_the_analysis_mask(analyzer: Analyzer, laterality: str) -> None:
    values, result = analyse(analyzer, laterality)
    outline = breast_outline(values, result)
    assert outline is not None and outline.shape[1] == 2
    cols = values.shape[1]
    chest = outline[:, 1].min() if laterality == "L" else cols - outline[:, 1].max()
    assert chest < 0.05 * cols  # touches the chest wall side
    reach = outline[:, 1].max() if laterality == "L" else cols - outline[:, 1].min()
    assert 0.55 * cols < reach < 0.8 * cols  # the half ellipse reaches 0.7 of the width
    mask, factor, flipped = breast_mask(values, result)
    assert (
        flipped == (laterality == "R")
        and factor == result.provenance.preprocessing["shrink_factor"]
    )
    assert abs(mask.mean() - result.provenance.preprocessing["breast_fraction"]) < 1e-6


def test_operating_point_text() -> None:
    points = [OperatingPoint("high-sens", 0.3, 0.95, 0.6), OperatingPoint("bal", 0.6, 0.8, 0.9)]
    assert "95%-sensitivity" in operating_point_text(0.4, points)
    assert "80%-sensitivity" in operating_point_text(0.7, points)
    assert "Below every operating point" in operating_point_text(0.1, points)
    assert "no operating points" in operating_point_text(0.5, [])


def test_model_package_stays_qt_free() -> None:
    text = "\n".join(
        (Path(__file__).parents[2] / "viewer" / "model" / name).read_text()
        for name in ("findings.py", "evidence.py")
    )
    assert "PySide6" not in text and "pyqtgraph" not in text and np.True_


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_displayed_global_heatmap_is_zero_outside_the_breast(
    analyzer: Analyzer, laterality: str
) -> None:
    values, result = analyse(analyzer, laterality)
    shown = BreastMask.of(values, result).inside(result.global_heatmap)
    heat = result.global_heatmap
    assert shown.shape == heat.values.shape
    rows, cols = shown.shape
    outer = slice(int(cols * 0.85), cols) if laterality == "L" else slice(0, int(cols * 0.15))
    assert not shown[:, outer].any()  # air beyond the breast
    middle = (slice(rows // 3, 2 * rows // 3), slice(0, cols // 3))
    if laterality == "R":
        middle = (middle[0], slice(2 * cols // 3, cols))
    np.testing.assert_array_equal(shown[middle], heat.values[middle])  # tissue unchanged


def test_display_map_shrinks_large_maps_by_block_averages() -> None:
    values = np.arange(1030 * 834, dtype=np.float32).reshape(1030, 834) / (1030 * 834)
    small = display_map(values, max_rows=512)
    assert small.shape == (344, 278)  # factor 3, edge-padded
    assert small[0, 0] == pytest.approx(values[:3, :3].mean())
    same = np.ones((300, 200), np.float32)
    assert display_map(same, max_rows=512) is same


def test_zoom_to_box_shows_the_box_at_full_resolution() -> None:
    from viewer.model.camera import Camera

    camera = Camera((4096, 3328), (1000, 800))
    zoom_to_box(camera, (1000, 1000, 1256, 1256))
    assert camera.zoom == pytest.approx(800 / (256 * 1.6))
    small = Camera((4096, 3328), (300, 300))
    zoom_to_box(small, (1000, 1000, 1256, 1256))
    assert small.zoom == 1.0  # fits at 1:1 though not with the margin
    r0, c0, r1, c1 = small.visible_rect()
    assert r0 <= 1000 and c0 <= 1000 and r1 >= 1256 and c1 >= 1256

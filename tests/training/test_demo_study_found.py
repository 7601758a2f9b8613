"""The bundled model finds the demo study's lesions, read through the runtime's DICOM reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference import Analyzer, Result
from viewer.dicomio import ai_input, load_image
from viewer.dicomio.synthetic import write_demo_study

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "resources" / "models" / "mammolens-gmic-synthetic"


def _contains(box: tuple[int, int, int, int], point: list[float]) -> bool:
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict, Result]]:
    study = write_demo_study(tmp_path_factory.mktemp("demo"), seed=2026)
    truth = json.loads(study.truth_path.read_text(encoding="utf-8"))
    analyzer = Analyzer(BUNDLED, device="cpu", top_k=6)
    out = []
    for view in truth["views"]:
        image = load_image(study.folder / view["file"])
        header = image.header
        assert header.pixel_spacing is not None
        result = analyzer.analyze(
            ai_input(image),
            pixel_spacing_mm=header.pixel_spacing[0],
            laterality=header.laterality,
            view=header.view_position,
        )
        out.append((view, result))
    return out


def test_every_demo_lesion_lies_in_a_top_crop(demo_results: list[tuple[dict, Result]]) -> None:
    lesions = 0
    for view, result in demo_results:
        for lesion in view["lesions"]:
            lesions += 1
            centre = lesion["center_yx_px"]
            assert any(_contains(c.box, centre) for c in result.crops), (view["file"], centre)
    assert lesions == 4


def test_the_lesion_crop_scores_highest_on_its_image(
    demo_results: list[tuple[dict, Result]],
) -> None:
    for view, result in demo_results:
        best = max(result.crops, key=lambda c: c.score)
        for lesion in view["lesions"]:
            assert _contains(best.box, lesion["center_yx_px"]), (view["file"], best.box)

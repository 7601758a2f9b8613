"""The model-card metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    box_contains,
    point_in_polygon,
    roc_auc,
    sensitivity_specificity,
    threshold_at_sensitivity,
)


def test_auc_counts_pairs_and_half_ties() -> None:
    labels = np.array([1, 1, 0, 0])
    assert roc_auc(labels, np.array([0.9, 0.5, 0.5, 0.1])) == pytest.approx(0.875)
    assert roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert roc_auc(np.array([1, 1]), np.array([0.3, 0.4])) is None


def test_threshold_reaches_the_asked_sensitivity() -> None:
    labels = np.array([1] * 10 + [0] * 10)
    scores = np.concatenate([np.linspace(0.5, 1.0, 10), np.linspace(0.0, 0.6, 10)])
    threshold, sens, spec = threshold_at_sensitivity(labels, scores, 0.9)
    assert sens == pytest.approx(0.9)
    assert (threshold, sens, spec) == (
        threshold,
        *sensitivity_specificity(labels, scores, threshold),
    )
    assert 0.5 < spec < 1.0


def test_geometry_helpers_are_half_open_and_even_odd() -> None:
    assert box_contains((0, 0, 10, 10), (0.0, 9.5))
    assert not box_contains((0, 0, 10, 10), (10.0, 5.0))
    square = np.array([[0, 0], [0, 10], [10, 10], [10, 0]], float)
    assert point_in_polygon((5, 5), square)
    assert not point_in_polygon((5, 12), square)


def test_model_card_names_the_runs_and_shows_the_validation_table() -> None:
    import dataclasses

    from training import config as cfg
    from training.card import model_card

    metrics = {
        "held_out_images": 120,
        "held_out_seeds": "900000-900119",
        "mass": {"image_auc": 0.5},
        "training": {"global_model": "run 4", "patch_model": "run 3 + mined"},
        "validation": {
            "images": 180,
            "seeds": "800000-800179",
            "image_auc": 0.9,
            "mass": {"image_auc": 0.8765},
        },
    }
    manifest = dataclasses.replace(cfg.draft_manifest(cfg.QUICK), metrics=metrics)
    text = model_card(manifest)
    assert "- Global model: run 4" in text
    assert "- Patch model: run 3 + mined" in text
    assert "On the 180 validation images (seeds 800000-800179;" in text
    assert "seeds 900000-900119)" in text
    assert "| 0.876 |" in text  # the validation mass AUC, in its own table
    assert "| 0.500 |" in text  # the held-out one


def test_pointing_misses_are_split_into_no_evidence_near_and_far() -> None:
    from inference.manifest import Fusion
    from training.evaluate import CaseOutcome, LesionOutcome, peak_distance_mm, summarize

    assert peak_distance_mm(None, (10.0, 10.0), 0.07) is None
    assert peak_distance_mm((10.0, 110.0), (10.0, 10.0), 0.07) == pytest.approx(7.0)

    def mass(seed: int, hit: bool, distance: float | None) -> CaseOutcome:
        lesion = LesionOutcome("mass", 1.2, True, 1, True, hit, distance)
        return CaseOutcome(seed, ("mass",), 1.0, (1.0,), (True,), (lesion,))

    normal = CaseOutcome(0, (), -1.0, (-1.0,), (False,), ())
    cases = [
        normal,
        mass(1, True, 2.0),
        mass(2, True, 4.0),
        mass(3, False, None),  # all-zero map
        mass(4, False, 6.0),  # near miss
        mass(5, False, 50.0),
        mass(6, False, 150.0),
    ]
    out = summarize(cases, Fusion(global_weight=0.5), [])["mass"]
    assert isinstance(out, dict)
    assert out["pointing_game"] == pytest.approx(2 / 6)
    assert out["pointing_missed_no_positive_evidence"] == pytest.approx(1 / 6)
    assert out["pointing_missed_near"] == pytest.approx(1 / 6)
    assert out["pointing_missed_far"] == pytest.approx(2 / 6)
    assert out["pointing_missed_far_distance_mm_median"] == pytest.approx(100.0)
    parts = ("pointing_game", "pointing_missed_no_positive_evidence", "pointing_missed_near")
    assert sum(out[k] for k in (*parts, "pointing_missed_far")) == pytest.approx(1.0)


def test_recall_and_pointing_game_are_split_by_lesion_size_and_shown_in_the_card() -> None:
    import dataclasses

    from inference.manifest import Fusion
    from training import config as cfg
    from training.card import model_card
    from training.evaluate import CaseOutcome, LesionOutcome, summarize

    def mass(
        seed: int, size: float | None, found: bool, hit: bool, distance: float | None
    ) -> CaseOutcome:
        lesion = LesionOutcome("mass", 1.2, found, int(found), found, hit, distance, size)
        return CaseOutcome(seed, ("mass",), 1.0, (1.0,), (found,), (lesion,))

    cases = [
        CaseOutcome(0, (), -1.0, (-1.0,), (False,), ()),
        mass(1, 6.0, False, False, None),  # small, all-zero map
        mass(2, 9.99, True, True, 2.0),
        mass(3, 8.0, False, False, 50.0),  # not in a crop, and a far peak (not "all zero")
        mass(4, 10.0, True, False, None),  # the band edge belongs to 10-15; in a crop, map zero
        mass(5, 19.0, True, True, 1.0),
        mass(6, None, True, True, 1.0),  # size unknown: in the totals, in no band
    ]
    out = summarize(cases, Fusion(global_weight=0.5), [])
    bands = out["mass"]["by_size_mm"]  # type: ignore[index]
    assert bands["<10"] == {
        "lesions": 3,
        "top_k_crop_recall": pytest.approx(1 / 3),
        "pointing_game": pytest.approx(1 / 3),
        "pointing_missed_no_positive_evidence": pytest.approx(1 / 3),
    }
    assert bands["10-15"]["lesions"] == 1 and bands["10-15"]["pointing_game"] == 0.0
    assert bands["10-15"]["pointing_missed_no_positive_evidence"] == 1.0  # found, map zero
    assert bands[">=15"]["lesions"] == 1 and bands[">=15"]["top_k_crop_recall"] == 1.0
    assert out["calcification_cluster"]["by_size_mm"]["<10"]["lesions"] == 0  # type: ignore[index]
    validation = {**out, "images": 7, "mass": {**out["mass"], "by_size_mm": {  # type: ignore[dict-item]
        **bands, ">=15": {**bands[">=15"], "lesions": 9}}}}  # fmt: skip
    manifest = dataclasses.replace(
        cfg.draft_manifest(cfg.QUICK), metrics={**out, "validation": validation}
    )
    text = model_card(manifest)
    assert "| <10 | 3 / 0.333 / 0.333 / 0.333 | 0 / n/a / n/a / n/a |" in text
    assert "| 10-15 | 1 / 1.000 / 0.000 / 1.000 |" in text
    assert "| >=15 | 1 / 1.000 / 1.000 / 0.000 |" in text  # held-out
    assert "| >=15 | 9 / 1.000 / 1.000 / 0.000 |" in text  # validation


def test_outcome_of_carries_the_lesion_size() -> None:
    from types import SimpleNamespace

    from training.evaluate import outcome_of

    crop = SimpleNamespace(box=(0, 0, 100, 100), score=0.9, logit=2.0)
    heatmap = SimpleNamespace(all_zero=False, values=np.ones((2, 2)), box=(0, 0, 100, 100))
    result = SimpleNamespace(crops=[crop], global_heatmap=heatmap, global_logit=1.0)
    lesion = SimpleNamespace(kind="mass", center_yx=(30.0, 30.0), contrast=1.1, size_mm=7.5)
    mask = np.zeros((100, 100), bool)
    mask[20:40, 20:40] = True
    case = outcome_of(result, [lesion], [mask], seed=1, spacing_mm=0.07)  # type: ignore[arg-type]
    assert case.lesions[0].size_mm == 7.5 and case.lesions[0].found

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

    def mass(seed: int, size: float | None, found: bool, hit: bool) -> CaseOutcome:
        distance = 2.0 if hit else (None if not found else 50.0)
        lesion = LesionOutcome("mass", 1.2, found, int(found), found, hit, distance, size)
        return CaseOutcome(seed, ("mass",), 1.0, (1.0,), (found,), (lesion,))

    cases = [
        CaseOutcome(0, (), -1.0, (-1.0,), (False,), ()),
        mass(1, 6.0, False, False),  # small, all-zero map
        mass(2, 9.99, True, True),
        mass(3, 10.0, True, False),  # the band edge belongs to 10-15
        mass(4, 19.0, True, True),
        mass(5, None, True, True),  # size unknown: in the totals, in no band
    ]
    out = summarize(cases, Fusion(global_weight=0.5), [])
    bands = out["mass"]["by_size_mm"]  # type: ignore[index]
    assert bands["<10"] == {
        "lesions": 2,
        "top_k_crop_recall": 0.5,
        "pointing_game": 0.5,
        "pointing_missed_no_positive_evidence": 0.5,
    }
    assert bands["10-15"]["lesions"] == 1 and bands["10-15"]["pointing_game"] == 0.0
    assert bands["10-15"]["pointing_missed_no_positive_evidence"] == 0.0  # a far miss
    assert bands[">=15"]["lesions"] == 1 and bands[">=15"]["top_k_crop_recall"] == 1.0
    assert out["calcification_cluster"]["by_size_mm"]["<10"]["lesions"] == 0  # type: ignore[index]
    manifest = dataclasses.replace(cfg.draft_manifest(cfg.QUICK), metrics=out)
    text = model_card(manifest)
    assert "| <10 | 2 / 0.500 / 0.500 / 0.500 | 0 / n/a / n/a / n/a |" in text
    assert "| 10-15 | 1 / 1.000 / 0.000 / 0.000 |" in text

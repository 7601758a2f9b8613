"""Score fusion: crops into an image score, images into breast and exam scores (MODEL_FORMAT.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.manifest import CropAggregation, Fusion, ViewAggregation
from inference.result import Result


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Numerically stable logistic function, float64."""
    z = np.asarray(x, dtype=np.float64)
    return np.where(
        z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z)))
    )


def crop_score(logits: np.ndarray, rule: Fusion) -> float:
    """Max of the crop probabilities, or their softmax(logit / T)-weighted mean (attention)."""
    probs = sigmoid(logits)
    if rule.crop_aggregation is CropAggregation.MAX:
        return float(probs.max())
    z = np.asarray(logits, np.float64) / rule.attention_temperature
    weights = np.exp(z - z.max())
    return float((weights * probs).sum() / weights.sum())


def fused_score(global_logit: float, logits: np.ndarray, rule: Fusion) -> float:
    """global_weight * sigmoid(global) + (1 - global_weight) * crop score."""
    image = float(sigmoid(global_logit))
    return rule.global_weight * image + (1 - rule.global_weight) * crop_score(logits, rule)


@dataclass(frozen=True)
class ExamScores:
    """Per-breast scores ("L", "R", or "" for unknown laterality) and the exam score."""

    breasts: dict[str, float]
    exam: float


def _aggregate(scores: list[float], how: ViewAggregation) -> float:
    return float(max(scores)) if how is ViewAggregation.MAX else float(np.mean(scores))


def fuse_views(results: Sequence[Result], how: ViewAggregation = ViewAggregation.MAX) -> ExamScores:
    """Breast score = max (or mean) of its views' fused scores; exam score = same over breasts."""
    if not results:
        raise ValueError("fuse_views: no results: expected at least one")
    per_breast: dict[str, list[float]] = {}
    for result in results:
        per_breast.setdefault(result.laterality.upper(), []).append(result.fused_score)
    breasts = {side: _aggregate(scores, how) for side, scores in sorted(per_breast.items())}
    return ExamScores(breasts, _aggregate(list(breasts.values()), how))

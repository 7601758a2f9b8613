"""Metrics of the model card: AUC, operating points, crop recall, pointing game (numpy only)."""

from __future__ import annotations

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie correction); None without both classes."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def threshold_at_sensitivity(
    labels: np.ndarray, scores: np.ndarray, sensitivity: float
) -> tuple[float, float, float]:
    """(threshold, sensitivity, specificity) of the highest threshold reaching ``sensitivity``.

    A case is called positive when its score is >= threshold.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    pos = np.sort(scores[labels])[::-1]
    need = int(np.ceil(sensitivity * len(pos) - 1e-9))
    threshold = float(pos[max(need, 1) - 1]) if len(pos) else 1.0
    return (threshold, *sensitivity_specificity(labels, scores, threshold))


def sensitivity_specificity(
    labels: np.ndarray, scores: np.ndarray, threshold: float
) -> tuple[float, float]:
    """Sensitivity and specificity of calling score >= threshold positive."""
    labels = np.asarray(labels).astype(bool)
    called = np.asarray(scores) >= threshold
    sens = float(called[labels].mean()) if labels.any() else float("nan")
    spec = float((~called[~labels]).mean()) if (~labels).any() else float("nan")
    return sens, spec


def box_contains(box: tuple[int, int, int, int], point_yx: tuple[float, float]) -> bool:
    """Whether a half-open (row0, col0, row1, col1) box contains a (row, col) point."""
    return box[0] <= point_yx[0] < box[2] and box[1] <= point_yx[1] < box[3]


def point_in_polygon(point_yx: tuple[float, float], polygon_yx: np.ndarray) -> bool:
    """Even-odd rule test of a (row, col) point against a closed (row, col) polygon."""
    y, x = point_yx
    ys, xs = polygon_yx[:, 0], polygon_yx[:, 1]
    ys2, xs2 = np.roll(ys, -1), np.roll(xs, -1)
    crosses = (ys > y) != (ys2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = xs + (y - ys) * (xs2 - xs) / (ys2 - ys)
    return bool(np.count_nonzero(crosses & (x < x_at)) % 2)


def mean_or_none(values: list[float]) -> float | None:
    """Mean of a list, None when empty (JSON null in the manifest)."""
    return float(np.mean(values)) if values else None

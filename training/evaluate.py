"""Held-out measurement of an exported model folder through the runtime `inference.Analyzer`.

The metrics therefore describe exactly what ships: ONNX files, runtime preprocessing, region
selection, crops and fusion. Definitions:
- image AUC of a lesion type: images with that lesion vs. images without any lesion;
- crop AUC: every top-K crop of every image, positive when a lesion centre lies inside it;
- top-K recall: a lesion is found when its centre lies in one of the image's top-K crops;
- pointing game: the peak of the global Grad-CAM heatmap lies inside the lesion's mask; a miss
  is "no positive evidence" (the map is all zero), near (peak within NEAR_MISS_MM of the lesion
  centre) or far;
- recall and pointing game again per lesion size band (SIZE_BANDS_MM, the generator's size:
  mean outline diameter of a mass, disk diameter of a cluster), to say which lesions are missed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference import Analyzer, Device, Result
from inference.fusion import fused_score
from inference.manifest import CropAggregation, Fusion, ModelManifest, OperatingPoint
from training import data, metrics
from training.config import RunConfig

log = logging.getLogger(__name__)

TOP_K = 6
NEAR_MISS_MM = 10.0
KINDS = ("mass", "calcification_cluster")
GLOBAL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SENSITIVITIES = (0.9, 0.95)
SIZE_BANDS_MM = (("<10", 0.0, 10.0), ("10-15", 10.0, 15.0), (">=15", 15.0, float("inf")))


@dataclass(frozen=True)
class LesionOutcome:
    """How the runtime did on one lesion."""

    kind: str
    contrast: float
    found: bool
    found_rank: int  # rank of the first crop containing its centre; 0 when not found
    top_scoring_crop: bool  # its crop has the highest crop score of the image
    pointing_hit: bool
    peak_distance_mm: float | None = None  # global heatmap peak to lesion centre; None: all zero
    size_mm: float | None = None  # the generator's lesion size (None: not known)


@dataclass(frozen=True)
class CaseOutcome:
    """The runtime outputs of one image that the metrics need."""

    seed: int
    kinds: tuple[str, ...]
    global_logit: float
    crop_logits: tuple[float, ...]
    crop_positive: tuple[bool, ...]
    lesions: tuple[LesionOutcome, ...]

    @property
    def label(self) -> bool:
        """Whether the image holds a lesion."""
        return bool(self.kinds)


def heatmap_peak(result: Result) -> tuple[float, float] | None:
    """Original-image (row, col) of the global heatmap's maximum; None when all zero."""
    hm = result.global_heatmap
    if hm.all_zero or not hm.values.size:
        return None
    i, j = np.unravel_index(int(np.argmax(hm.values)), hm.values.shape)
    r0, c0, r1, c1 = hm.box
    return (
        r0 + (i + 0.5) * (r1 - r0) / hm.values.shape[0],
        c0 + (j + 0.5) * (c1 - c0) / hm.values.shape[1],
    )


def peak_distance_mm(
    peak: tuple[float, float] | None, centre: tuple[float, float], spacing_mm: float
) -> float | None:
    """Distance from the heatmap peak to a lesion centre in mm (None without a peak)."""
    if peak is None:
        return None
    return float(np.hypot(peak[0] - centre[0], peak[1] - centre[1]) * spacing_mm)


def outcome_of(
    result: Result,
    lesions: Sequence[object],
    masks: Sequence[np.ndarray],
    seed: int,
    spacing_mm: float,
) -> CaseOutcome:
    """Reduce a Result plus the ground truth (generator lesions and masks) to a CaseOutcome."""
    boxes = [c.box for c in result.crops]
    scores = [c.score for c in result.crops]
    best = int(np.argmax(scores)) if scores else -1
    peak = heatmap_peak(result)
    found = []
    for lesion, mask in zip(lesions, masks, strict=True):
        centre = lesion.center_yx  # type: ignore[attr-defined]
        inside = [metrics.box_contains(b, centre) for b in boxes]
        rank = 1 + inside.index(True) if any(inside) else 0
        hit = peak is not None and bool(
            mask[min(int(peak[0]), mask.shape[0] - 1), min(int(peak[1]), mask.shape[1] - 1)]
        )
        found.append(
            LesionOutcome(
                str(lesion.kind),  # type: ignore[attr-defined]
                float(lesion.contrast),  # type: ignore[attr-defined]
                rank > 0,
                rank,
                best >= 0 and inside[best],
                hit,
                peak_distance_mm(peak, centre, spacing_mm),
                float(lesion.size_mm),  # type: ignore[attr-defined]
            )
        )
    centres = [les.center_yx for les in lesions]  # type: ignore[attr-defined]
    return CaseOutcome(
        seed,
        tuple(str(les.kind) for les in lesions),  # type: ignore[attr-defined]
        result.global_logit,
        tuple(c.logit for c in result.crops),
        tuple(any(metrics.box_contains(b, p) for p in centres) for b in boxes),
        tuple(found),
    )


def analyze_seeds(folder: Path, seeds: Sequence[int], config: RunConfig) -> list[CaseOutcome]:
    """Generate each seed's case and run the runtime Analyzer on it."""
    from viewer.dicomio.synthetic import lesion_mask

    analyzer = Analyzer(folder, device=Device.CPU, top_k=TOP_K)
    out = []
    start = time.monotonic()
    for i, seed in enumerate(seeds):
        spec = data.case_spec(seed)
        m = data.generate(spec, config.image_shape)
        result = analyzer.analyze(
            m.pixels.astype(np.float32),
            pixel_spacing_mm=m.pixel_spacing_mm,
            laterality=m.laterality,
            view=m.view,
        )
        masks = [lesion_mask(m, lesion) for lesion in m.lesions]
        out.append(outcome_of(result, m.lesions, masks, seed, m.pixel_spacing_mm))
        if (i + 1) % 20 == 0 or i + 1 == len(seeds):
            log.info("evaluate %d/%d images (%.0f s)", i + 1, len(seeds), time.monotonic() - start)
    return out


def _fused(cases: Sequence[CaseOutcome], rule: Fusion) -> np.ndarray:
    return np.array([fused_score(c.global_logit, np.array(c.crop_logits), rule) for c in cases])


def _labels(cases: Sequence[CaseOutcome]) -> np.ndarray:
    return np.array([c.label for c in cases])


def calibrate(
    cases: Sequence[CaseOutcome], manifest: ModelManifest
) -> tuple[Fusion, tuple[OperatingPoint, ...]]:
    """Fusion weight with the best validation AUC, and thresholds at fixed sensitivities."""
    labels = _labels(cases)
    best: tuple[float, Fusion] | None = None
    for weight in GLOBAL_WEIGHTS:
        rule = dataclasses.replace(
            manifest.fusion, global_weight=weight, crop_aggregation=CropAggregation.MAX
        )
        auc = metrics.roc_auc(labels, _fused(cases, rule)) or 0.0
        if best is None or auc > best[0] + 1e-9:
            best = (auc, rule)
    assert best is not None
    rule = best[1]
    scores = _fused(cases, rule)
    points = []
    for target in SENSITIVITIES:
        threshold, sens, spec = metrics.threshold_at_sensitivity(labels, scores, target)
        points.append(
            OperatingPoint(
                f"sensitivity {target:.0%} (validation)",
                float(np.clip(threshold, 0, 1)),
                sens,
                spec,
            )
        )
    return rule, tuple(points)


def _per_kind(cases: Sequence[CaseOutcome], kind: str) -> list[LesionOutcome]:
    return [les for c in cases for les in c.lesions if les.kind == kind]


def _auc_of(cases: Sequence[CaseOutcome], scores: np.ndarray, kind: str | None) -> float | None:
    keep = [i for i, c in enumerate(cases) if not c.label or kind is None or kind in c.kinds]
    return metrics.roc_auc(_labels(cases)[keep], scores[keep])


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _pointing_misses(lesions: Sequence[LesionOutcome]) -> dict[str, float | None]:
    """How the pointing game was missed; with the pointing game these fractions add up to 1."""

    def share(test: Callable[[float | None], bool]) -> float | None:
        return metrics.mean_or_none(
            [float(not x.pointing_hit and test(x.peak_distance_mm)) for x in lesions]
        )

    missed = [x.peak_distance_mm for x in lesions if not x.pointing_hit]
    far = [d for d in missed if d is not None and d > NEAR_MISS_MM]
    return {
        "pointing_missed_no_positive_evidence": share(lambda d: d is None),
        "pointing_missed_near": share(lambda d: d is not None and d <= NEAR_MISS_MM),
        "pointing_missed_far": share(lambda d: d is not None and d > NEAR_MISS_MM),
        "pointing_missed_far_distance_mm_median": _median(far),
    }


def _by_size(lesions: Sequence[LesionOutcome]) -> dict[str, dict[str, float | int | None]]:
    """Top-K recall and pointing game per size band (lesions of unknown size left out)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for name, low, high in SIZE_BANDS_MM:
        band = [x for x in lesions if x.size_mm is not None and low <= x.size_mm < high]
        out[name] = {
            "lesions": len(band),
            "top_k_crop_recall": metrics.mean_or_none([float(x.found) for x in band]),
            "pointing_game": metrics.mean_or_none([float(x.pointing_hit) for x in band]),
            "pointing_missed_no_positive_evidence": _pointing_misses(band)[
                "pointing_missed_no_positive_evidence"
            ],
        }
    return out


def summarize(
    cases: Sequence[CaseOutcome], rule: Fusion, points: Sequence[OperatingPoint]
) -> dict[str, object]:
    """The metrics dictionary of the manifest (held-out set)."""
    fused = _fused(cases, rule)
    glob = np.array([c.global_logit for c in cases])
    crop = np.array([max(c.crop_logits) if c.crop_logits else -np.inf for c in cases])
    out: dict[str, object] = {
        "held_out_images": len(cases),
        "held_out_normal_images": int((~_labels(cases)).sum()),
        "top_k": TOP_K,
        "image_auc": _auc_of(cases, fused, None),
        "image_auc_global_model_only": _auc_of(cases, glob, None),
        "image_auc_crops_only": _auc_of(cases, crop, None),
        "crop_auc": metrics.roc_auc(
            np.array([p for c in cases for p in c.crop_positive]),
            np.array([s for c in cases for s in c.crop_logits]),
        ),
        "operating_points_held_out": [
            dict(zip(("threshold", "sensitivity", "specificity"), (p.threshold, *ss), strict=True))
            for p in points
            for ss in [metrics.sensitivity_specificity(_labels(cases), fused, p.threshold)]
        ],
    }
    for kind in KINDS:
        lesions = _per_kind(cases, kind)
        out[kind] = {
            "images": sum(1 for c in cases if kind in c.kinds),
            "image_auc": _auc_of(cases, fused, kind),
            "image_auc_global_model_only": _auc_of(cases, glob, kind),
            "top_k_crop_recall": metrics.mean_or_none([float(x.found) for x in lesions]),
            "top_crop_is_highest_scoring": metrics.mean_or_none(
                [float(x.top_scoring_crop) for x in lesions]
            ),
            "pointing_game": metrics.mean_or_none([float(x.pointing_hit) for x in lesions]),
            **_pointing_misses(lesions),
            "contrast_z_median": _median([x.contrast for x in lesions]),
            "contrast_z_median_found": _median([x.contrast for x in lesions if x.found]),
            "contrast_z_median_missed": _median([x.contrast for x in lesions if not x.found]),
            "by_size_mm": _by_size(lesions),
        }
    return out

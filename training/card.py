"""The model card (README.md beside manifest.json), written from the manifest's measured metrics."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inference.manifest import ModelManifest
from training.evaluate import KINDS, NEAR_MISS_MM

TARGETS = {
    ("mass", "image_auc"): 0.95,
    ("calcification_cluster", "image_auc"): 0.85,
    ("mass", "top_k_crop_recall"): 0.95,
    ("calcification_cluster", "top_k_crop_recall"): 0.85,
    ("mass", "pointing_game"): 0.85,
}
ROWS = (
    ("image_auc", "image AUC (fused score; type vs. normal images)"),
    ("image_auc_global_model_only", "image AUC, global model alone"),
    ("top_k_crop_recall", "top-6 crop recall (lesion centre in a crop)"),
    ("top_crop_is_highest_scoring", "lesion in the highest-scoring crop"),
    ("pointing_game", "pointing game (global Grad-CAM peak in the lesion)"),
    ("pointing_missed_no_positive_evidence", "missed: global map all zero"),
    ("pointing_missed_near", f"missed: peak within {NEAR_MISS_MM:g} mm of the centre"),
    ("pointing_missed_far", "missed: peak farther away"),
    ("contrast_z_median", "median lesion contrast z (generator)"),
)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(metrics: Mapping[str, Any]) -> list[str]:
    lines = [
        "| metric | masses | target | calcification clusters | target |",
        "|---|---|---|---|---|",
    ]
    for key, label in ROWS:
        cells = [label]
        for kind in KINDS:
            cells.append(_fmt(dict(metrics.get(kind, {})).get(key)))
            target = TARGETS.get((kind, key))
            cells.append(f">= {target}" if target else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


SIZE_COLUMNS = (
    "lesions",
    "top_k_crop_recall",
    "pointing_game",
    "pointing_missed_no_positive_evidence",
)


def _size_table(metrics: Mapping[str, Any]) -> list[str]:
    """Recall and pointing game per lesion size band (`evaluate.SIZE_BANDS_MM`), when measured."""
    kinds: list[Mapping[str, Any]] = []
    for kind in KINDS:
        bands = dict(metrics.get(kind, {})).get("by_size_mm")
        if not isinstance(bands, Mapping):
            return []
        kinds.append(bands)
    lines = [
        "By lesion size: lesions / top-6 crop recall / pointing game / global map all zero.",
        "",
        "| size (mm) | masses | calcification clusters |",
        "|---|---|---|",
    ]
    for band in kinds[0]:
        cells = [band]
        for bands in kinds:
            measured = dict(bands.get(band, {}))
            cells.append(" / ".join(_fmt(measured.get(key)) for key in SIZE_COLUMNS))
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _provenance(training: Any) -> list[str]:
    """Which run each stage's weights come from, when the training log says so."""
    if not isinstance(training, Mapping):
        return []
    lines = [
        f"- {stage} model: {training[key]}"
        for stage, key in (("Global", "global_model"), ("Patch", "patch_model"))
        if key in training
    ]
    return [*lines, ""] if lines else []


def _validation(validation: Any) -> list[str]:
    """The same table on the (larger) validation set, which also chose fusion and thresholds."""
    if not isinstance(validation, Mapping):
        return []
    return [
        f"On the {validation.get('images')} validation images (seeds "
        f"{validation.get('seeds', 'not recorded')}; they also chose the "
        f"fusion and the operating points, so they are not independent): image AUC "
        f"{_fmt(validation.get('image_auc'))}, crop-level AUC {_fmt(validation.get('crop_auc'))}.",
        "",
        *_table(validation),
        "",
        *_size_table(validation),
    ]


def model_card(manifest: ModelManifest) -> str:
    """Markdown text of the model card."""
    m = manifest.metrics
    lines = [
        f"# {manifest.name} {manifest.version}",
        "",
        f"**{manifest.intended_use}**",
        "",
        f"Training data: {manifest.training_data}",
        "",
        "Built by `python -m training` (train, resumed runs, average: see training/README.md); the",
        "metrics below were measured by running these ONNX files through `inference.Analyzer` on",
        "held-out synthetic images. They say how well the model finds the generator's lesions,",
        "nothing about real mammograms.",
        "",
        *_provenance(m.get("training")),
        f"Held-out images: {m.get('held_out_images')} ({m.get('held_out_normal_images')} normal; "
        f"seeds {m.get('held_out_seeds', 'not recorded')}).",
        f"Image AUC, all lesions: {_fmt(m.get('image_auc'))}; crop-level AUC: "
        f"{_fmt(m.get('crop_auc'))}; fusion: global weight {manifest.fusion.global_weight}, "
        f"crops {manifest.fusion.crop_aggregation}.",
        "",
        *_table(m),
        "",
        *_size_table(m),
        *_validation(m.get("validation")),
        "Operating points (threshold on the fused score, chosen on the validation set):",
        "",
    ]
    for point in manifest.operating_points:
        lines.append(
            f"- {point.name}: threshold {point.threshold:.4f}, validation sensitivity "
            f"{point.sensitivity:.3f}, specificity {point.specificity:.3f}"
        )
    return "\n".join(lines) + "\n"


def write_model_card(folder: Path, manifest: ModelManifest) -> None:
    """Write README.md into the model folder."""
    (folder / "README.md").write_text(model_card(manifest), encoding="utf-8")

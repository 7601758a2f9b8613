"""The three top-level jobs: train on synthetic data, train on a CSV of DICOM files, evaluate."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from inference.manifest import MANIFEST_FILE, ModelManifest, manifest_from_dict
from training import config as cfg
from training import pipeline, provenance
from training.config import RunConfig
from training.models import CamClassifier, densify

log = logging.getLogger(__name__)


def seeds(base: int, seed: int, count: int) -> list[int]:
    """The seeds of one split: disjoint ranges per split and per run seed."""
    return [base + seed * 10_000 + i for i in range(count)]


def _check_disjoint(train_seeds: list[int], config: RunConfig, seed: int) -> None:
    """Refuse training images that are also validation or held-out images."""
    for name, base, count in (
        ("validation", cfg.VALIDATION_SEED_BASE, config.n_validation),
        ("held-out", cfg.HELD_OUT_SEED_BASE, config.n_held_out),
    ):
        other = seeds(base, seed, count)
        clash = sorted(set(train_seeds) & set(other))
        if clash:
            raise ValueError(
                f"training seeds {clash[0]}-{clash[-1]} overlap the {name} seeds "
                f"{other[0]}-{other[-1]} (--seed {seed}): choose another --data-seed"
            )


def write_manifest(folder: Path, manifest: ModelManifest) -> None:
    """Validate (round trip through the runtime parser) and write manifest.json."""
    data = manifest.to_dict()
    manifest_from_dict(data)
    (folder / MANIFEST_FILE).write_text(json.dumps(data, indent=2) + "\n")


def read_manifest(folder: Path) -> ModelManifest:
    """The manifest of a model folder, through the runtime parser."""
    return manifest_from_dict(json.loads((folder / MANIFEST_FILE).read_text()))


DataSeed = int | Sequence[int] | None


def _seeds_per_data_seed(config: RunConfig, seed: int, data_seed: DataSeed) -> list[list[int]]:
    """The training seeds of each data seed (`seed` when none is given; repeats ignored)."""
    if data_seed is None:
        chosen = [seed]
    else:
        chosen = [data_seed] if isinstance(data_seed, int) else list(dict.fromkeys(data_seed))
    return [seeds(cfg.TRAIN_SEED_BASE, d, config.n_train) for d in chosen]


def training_seeds(config: RunConfig, seed: int, data_seed: DataSeed = None) -> list[int]:
    """The training images' seeds: picked by `data_seed`, else by `seed`. Several data seeds
    give one training set of all their images (n_train per data seed)."""
    return [s for group in _seeds_per_data_seed(config, seed, data_seed) for s in group]


def training_seed_ranges(config: RunConfig, seed: int, data_seed: DataSeed = None) -> list[str]:
    """The training seeds as "first-last" ranges, one per data seed."""
    return [_seed_range(group) for group in _seeds_per_data_seed(config, seed, data_seed)]


def training_data_text(config: RunConfig, seed: int, data_seed: DataSeed = None) -> str:
    """The manifest's plain-words description of the training data (the validation and
    held-out images are named with the metrics, by `evaluate_folder`)."""
    ranges = training_seed_ranges(config, seed, data_seed)
    count = len(training_seeds(config, seed, data_seed))
    return (
        "Synthetic mammograms from viewer.dicomio.synthetic (no real patient images); "
        f"training seeds {' and '.join(ranges)} ({count} images, 1/3 normal, 1/3 one mass, "
        "1/3 one calcification cluster)."
    )


def _seed_range(values: list[int]) -> str:
    return f"{values[0]}-{values[-1]}" if values else "none"


def train_synthetic(
    out: Path,
    weights: Path,
    config: RunConfig,
    seed: int,
    cache: Path,
    resume: Path | None = None,
    data_seed: DataSeed = None,
) -> None:
    """Generate (cached) data, train both models, export, evaluate, write the manifest.

    `seed` selects the initialization and the validation and held-out images; `data_seed`
    (default: `seed`; several: one set of all their images) the training images, so a resumed
    run can continue on fresh images and still be measured on the same held-out set. When a
    resumed run trains neither patch stage, the cases' crops are dropped as they load (about
    half of each case's memory).
    """
    if resume is not None:  # before hours of data and patch training, not after
        _check_resume_stride(resume, config)
    draft = cfg.draft_manifest(config)
    train_seeds = training_seeds(config, seed, data_seed)
    _check_disjoint(train_seeds, config, seed)
    t0 = time.monotonic()
    patch_trains = config.patch.max_seconds > 0 or config.patch_mined is not None
    train_cases = pipeline.load_cases(
        train_seeds, config, draft, cache, keep_crops=patch_trains or resume is None
    )
    data_seconds = time.monotonic() - t0
    mining = pipeline.Mining(train_seeds, draft, cache, torch.get_num_threads())
    patch, glob, info = pipeline.train_models(config, train_cases, seed, resume, mining)
    info["data_seconds"] = round(data_seconds, 1)
    info["train_seeds"] = training_seed_ranges(config, seed, data_seed)
    if resume is not None:
        info["resumed_from"] = _previous_log(resume)
    text = training_data_text(config, seed, data_seed)
    _export_and_measure(out, weights, patch, glob, draft, text, info, config, seed)


def _check_resume_stride(resume: Path, config: RunConfig) -> None:
    """A stride-8 run may resume a stride-16 model (it is densified); nothing else may differ."""
    saved = pipeline.saved_stride(resume / "global.npz")
    if saved != config.global_stride and (saved, config.global_stride) != (16, 8):
        raise ValueError(
            f"--resume {resume}: its global model has stride {saved}, the run has "
            f"{config.global_stride}; pass --global-stride {saved}"
        )


def _global_model_of(sources: list[Path], config: RunConfig, channels: int) -> CamClassifier:
    """An untrained global model of the finest of the sources' strides (a coarser source is read
    on that grid, `pipeline.average_weights`)."""
    stride = min(pipeline.saved_stride(s / "global.npz") for s in sources)
    finer = config.global_stride // stride if stride < config.global_stride else 1
    top_k = config.global_top_k * finer**2
    return pipeline.new_model(config, channels, top_k, stride)


def _export_and_measure(
    out: Path,
    weights: Path,
    patch: CamClassifier,
    glob: CamClassifier,
    draft: ModelManifest,
    training_data: str,
    info: dict[str, object],
    config: RunConfig,
    seed: int,
) -> None:
    """Export both models, write the manifest (with `training_data`) and the training log, then
    measure the folder on the validation and held-out images (`evaluate_folder`)."""
    manifest = pipeline.export_bundle(out, weights, patch, glob, draft)
    write_manifest(out, dataclasses.replace(manifest, training_data=training_data))
    log = provenance.compact(info)  # earlier runs' logs once each (training.provenance)
    (weights / "training_log.json").write_text(json.dumps(log, indent=2) + "\n")
    evaluate_folder(out, config, seed, write=True, extra={"training": log})


def average_synthetic(
    out: Path,
    weights: Path,
    sources: list[Path],
    config: RunConfig,
    seed: int,
    cache: Path,
    data_seed: DataSeed = None,
) -> None:
    """A model whose global weights are the mean of several runs' (`pipeline.average_weights`),
    with the first run's patch model; BatchNorm re-estimated on about 40 whole training images
    (picked like the training stages' own re-estimation), then exported and evaluated like
    `train_synthetic`."""
    for source in sources:
        if weights.resolve() == source.resolve():
            raise ValueError(f"--weights-dir {weights} is one of the averaged runs: choose another")
    train_seeds = training_seeds(config, seed, data_seed)
    _check_disjoint(train_seeds, config, seed)
    draft = cfg.draft_manifest(config)
    channels = len(draft.channels)
    glob = pipeline.average_weights(
        [s / "global.npz" for s in sources], _global_model_of(sources, config, channels)
    )
    patch = pipeline.load_weights(
        sources[0] / "patch.npz", pipeline.new_model(config, channels, config.patch_top_k)
    )
    stride = pipeline.batchnorm_stride(len(train_seeds))
    picked = train_seeds[::stride]
    cases = pipeline.load_cases(picked, config, draft, cache)
    pipeline.recalibrate_on_images(glob, np.stack([c["global_input"] for c in cases]))
    info: dict[str, object] = {
        "averaged_global_models": [_previous_log(s) for s in sources],
        "patch_model_from": str(sources[0]),
        "batchnorm_images": [picked[0], picked[-1], len(picked)],
    }
    text = (
        "Synthetic mammograms from viewer.dicomio.synthetic (no real patient images); the global "
        f"model is the mean of {len(sources)} runs (their training images are named in "
        f"training_log.json), its BatchNorm re-estimated on {len(picked)} training images "
        f"(seeds {_seed_range(picked)} in steps of {stride}); the patch model is the first run's."
    )
    _export_and_measure(out, weights, patch, glob, draft, text, info, config, seed)


def densify_synthetic(
    out: Path,
    weights: Path,
    source: Path,
    config: RunConfig,
    seed: int,
    top_k: int | None = None,
    stride: int = 8,
) -> None:
    """A run's global model read on the finer grid of ``stride`` (`training.models.densify`: same
    weights, no training), with its patch model, exported and evaluated like `train_synthetic`."""
    if weights.resolve() == source.resolve():
        raise ValueError(f"--weights-dir {weights} is the source run: choose another")
    draft = cfg.draft_manifest(config)
    channels = len(draft.channels)
    coarse = pipeline.load_weights(
        source / "global.npz", _global_model_of([source], config, channels)
    )
    glob = densify(coarse, top_k, stride)
    patch = pipeline.load_weights(
        source / "patch.npz", pipeline.new_model(config, channels, config.patch_top_k)
    )
    info: dict[str, object] = {
        "densified_from": _previous_log(source),
        "global_stride": glob.backbone.stride,
        "global_top_k": glob.top_k,
        "patch_model_from": str(source),
    }
    text = (
        "Synthetic mammograms from viewer.dicomio.synthetic (no real patient images); both models "
        "are those of one earlier run (its training images are named in training_log.json), the "
        f"global model read on a {_TIMES[coarse.backbone.stride // stride]} finer grid than its "
        f"own (stride {coarse.backbone.stride} -> {stride}, same weights, no further training)."
    )
    _export_and_measure(out, weights, patch, glob, draft, text, info, config, seed)


_TIMES = {2: "twice", 4: "four times"}


def _previous_log(weights: Path) -> object:
    """The run's training log with its repeats written out (`provenance.expand`), so that its
    pointers cannot dangle once it is nested in another log; else the folder's name."""
    path = weights / "training_log.json"
    return provenance.expand(json.loads(path.read_text())) if path.is_file() else str(weights)


def train_csv(csv: Path, out: Path, weights: Path, config: RunConfig, seed: int) -> None:
    """Train on a user's DICOM files listed in a CSV (see training.csvdata)."""
    from training import csvdata

    draft = cfg.draft_manifest(config)
    cases = csvdata.load_csv_cases(csv, draft, config)
    n_images = len(cases)
    patch, glob, info = pipeline.train_models(config, cases, seed)
    manifest = pipeline.export_bundle(out, weights, patch, glob, draft)
    manifest = dataclasses.replace(
        manifest,
        training_data=f"DICOM images listed in {csv.name} ({n_images} images)",
        metrics={"training": info, "note": "no held-out evaluation for CSV training"},
    )
    write_manifest(out, manifest)
    (weights / "training_log.json").write_text(json.dumps(info, indent=2) + "\n")


def validation_summary(summary: dict[str, object]) -> dict[str, object]:
    """`evaluate.summarize` of the validation set, its set-size keys named for what they count."""
    names = {
        "held_out_images": "images",
        "held_out_normal_images": "normal_images",
        "operating_points_held_out": "operating_points_measured",
    }
    return {names.get(k, k): v for k, v in summary.items()}


def evaluate_folder(
    folder: Path,
    config: RunConfig,
    seed: int,
    write: bool,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """Measure a model folder with inference.Analyzer on validation and held-out seeds."""
    from training import evaluate

    manifest = read_manifest(folder)
    val_seeds = seeds(cfg.VALIDATION_SEED_BASE, seed, config.n_validation)
    held_seeds = seeds(cfg.HELD_OUT_SEED_BASE, seed, config.n_held_out)
    val = evaluate.analyze_seeds(folder, val_seeds, config)
    held = evaluate.analyze_seeds(folder, held_seeds, config)
    fusion, points = evaluate.calibrate(val, manifest)
    metrics = evaluate.summarize(held, fusion, points)
    metrics["held_out_seeds"] = _seed_range(held_seeds)
    # The validation set chose the fusion and the operating points (so it is optimistic there);
    # its figures are kept beside the held-out ones as a second estimate.
    metrics["validation"] = {
        **validation_summary(evaluate.summarize(val, fusion, points)),
        "seeds": _seed_range(val_seeds),
    }
    if "training" in manifest.metrics:
        metrics["training"] = manifest.metrics["training"]
    metrics.update(extra or {})
    log.info("metrics: %s", json.dumps(metrics, indent=1, default=str))
    if write:
        from training.card import write_model_card

        final = dataclasses.replace(
            manifest, fusion=fusion, operating_points=points, metrics=metrics
        )
        write_manifest(folder, final)
        write_model_card(folder, final)
    return metrics

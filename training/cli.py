"""Command line of the training pipeline: `train` (synthetic or CSV data), `average`, `densify`
and `evaluate`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from training import config as cfg

log = logging.getLogger("training")

DEFAULT_CACHE = Path.home() / ".cache" / "mammolens-training"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train both models, export ONNX, measure, write manifest")
    train.add_argument("--out", type=Path, required=True, help="model folder to write")
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="selects the initialization and the validation and held-out images (and the training "
        "images unless --data-seed is given)",
    )
    train.add_argument(
        "--data-seed",
        type=int,
        nargs="+",
        help="selects the training images only (default: --seed); several: one training set of "
        "all their images",
    )
    train.add_argument("--quick", action="store_true", help="tiny images, a few steps (CI smoke)")
    train.add_argument("--csv", type=Path, help="train on DICOM files listed in a CSV instead")
    train.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="generated-data cache")
    train.add_argument("--weights-dir", type=Path, help="torch weights (.npz); default OUT/torch")
    train.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    train.add_argument("--resume", type=Path, help="continue from the torch weights in this folder")
    train.add_argument("--patch-minutes", type=float, help="wall-time budget of the patch stage")
    train.add_argument("--global-minutes", type=float, help="wall-time budget of the global stage")
    train.add_argument("--mined-minutes", type=float, help="budget of the mined-crop patch stage")
    train.add_argument(
        "--hard-minutes", type=float, help="budget of the global model's false-positive stage"
    )
    train.add_argument("--lr-scale", type=float, default=1.0, help="multiplies all learning rates")
    train.add_argument(
        "--global-rank-weight",
        type=float,
        help="the dense global stage's ranking term weight (the false-positive stage has 0.5)",
    )
    train.add_argument(
        "--global-peak-targets",
        action="store_true",
        help="the dense global stage trains towards lesion-peak targets (as the false-positive "
        "stage does)",
    )
    train.add_argument(
        "--small-masses",
        type=float,
        nargs=2,
        metavar=("MM", "WEIGHT"),
        help="mass cases whose lesion is under MM mm are drawn WEIGHT times as often again",
    )
    train.add_argument(
        "--global-stride",
        type=int,
        choices=(16, 8),
        default=16,
        help="the global model's cam grid: 8 is twice finer (a stride-16 --resume model is read "
        "on it with the same weights, then trained)",
    )
    avg = sub.add_parser(
        "average",
        help="average the global models of several runs (one lineage), re-estimate BatchNorm, "
        "export, measure, write manifest",
    )
    avg.add_argument("--out", type=Path, required=True, help="model folder to write")
    avg.add_argument(
        "--weights", type=Path, nargs="+", required=True,
        help="weights folders of the runs (the first one's patch model is kept)",
    )  # fmt: skip
    avg.add_argument("--weights-dir", type=Path, help="torch weights (.npz); default OUT/torch")
    avg.add_argument("--seed", type=int, default=0)
    avg.add_argument("--data-seed", type=int, help="training images for BatchNorm (default --seed)")
    avg.add_argument("--quick", action="store_true")
    avg.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="generated-data cache")
    avg.add_argument("--threads", type=int, default=2)
    den = sub.add_parser(
        "densify",
        help="read a run's global model on a finer grid (same weights), export, measure, "
        "write manifest",
    )
    den.add_argument("--out", type=Path, required=True, help="model folder to write")
    den.add_argument("--weights", type=Path, required=True, help="weights folder of the run")
    den.add_argument("--weights-dir", type=Path, help="torch weights (.npz); default OUT/torch")
    den.add_argument(
        "--top-k",
        type=int,
        help="cells of the global top-k mean (default 4 x (16 / stride)^2: the area of the "
        "stride-16 model's 4 cells)",
    )
    den.add_argument(
        "--stride",
        type=int,
        choices=(8, 4),
        default=8,
        help="the finer grid: 8 (from a stride-16 run) or 4 (from a stride-16 or stride-8 run)",
    )
    den.add_argument("--seed", type=int, default=0)
    den.add_argument("--quick", action="store_true")
    den.add_argument("--threads", type=int, default=2)
    ev = sub.add_parser("evaluate", help="measure a model folder on held-out synthetic images")
    ev.add_argument("--model", type=Path, required=True)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--quick", action="store_true")
    ev.add_argument("--threads", type=int, default=2)
    ev.add_argument("--write", action="store_true", help="store the metrics in manifest.json")
    return parser


def _overrides(config: cfg.RunConfig, args: argparse.Namespace) -> cfg.RunConfig:
    """Stage budgets, learning rates and the dense global stage's options from the command line
    (0 minutes skips a stage)."""
    stages: dict[str, Any] = {}
    for name, minutes in (
        ("patch", args.patch_minutes),
        ("global_", args.global_minutes),
        ("patch_mined", args.mined_minutes),
        ("global_hard", args.hard_minutes),
    ):
        stage = getattr(config, name)
        if stage is None:
            continue
        if name in ("patch_mined", "global_hard") and minutes == 0:
            stages[name] = None
            continue
        changes: dict[str, Any] = {"learning_rate": stage.learning_rate * args.lr_scale}
        if minutes is not None:
            changes["max_seconds"] = minutes * 60
        if name == "global_":
            if args.global_rank_weight is not None:
                changes["rank_weight"] = args.global_rank_weight
            if args.global_peak_targets:
                changes["peak_targets"] = True
        stages[name] = dataclasses.replace(stage, **changes)
    if args.small_masses is not None:
        stages["small_mass_mm"], stages["small_mass_weight"] = args.small_masses
    config = dataclasses.replace(config, **stages)
    return cfg.finer_global(config) if args.global_stride == 8 else config


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    torch.set_num_threads(args.threads)
    config = cfg.QUICK if args.quick else cfg.FULL
    if args.command == "train":
        config = _overrides(config, args)
    start = time.monotonic()
    if args.command == "train":
        from training.run import train_csv, train_synthetic

        weights = args.weights_dir or args.out / "torch"
        if args.csv is not None:
            if args.data_seed is not None:
                _parser().error("--data-seed selects synthetic images: not with --csv")
            train_csv(args.csv, args.out, weights, config, args.seed)
        else:
            train_synthetic(
                args.out, weights, config, args.seed, args.cache, args.resume, args.data_seed
            )
    elif args.command == "average":
        from training.run import average_synthetic

        weights = args.weights_dir or args.out / "torch"
        average_synthetic(
            args.out, weights, args.weights, config, args.seed, args.cache, args.data_seed
        )
    elif args.command == "densify":
        from training.run import densify_synthetic

        weights = args.weights_dir or args.out / "torch"
        densify_synthetic(
            args.out, weights, args.weights, config, args.seed, args.top_k, args.stride
        )
    else:
        from training.run import evaluate_folder

        evaluate_folder(args.model, config, args.seed, write=args.write)
    log.info("%s done in %.0f s", args.command, time.monotonic() - start)
    return 0

"""Command line of the training pipeline: `train` (synthetic or CSV data) and `evaluate`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from training import config as cfg

log = logging.getLogger("training")

DEFAULT_CACHE = Path.home() / ".cache" / "mammolens-training"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train both models, export ONNX, measure, write manifest")
    train.add_argument("--out", type=Path, required=True, help="model folder to write")
    train.add_argument("--seed", type=int, default=0, help="selects the training seeds and init")
    train.add_argument("--quick", action="store_true", help="tiny images, a few steps (CI smoke)")
    train.add_argument("--csv", type=Path, help="train on DICOM files listed in a CSV instead")
    train.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="generated-data cache")
    train.add_argument("--weights-dir", type=Path, help="torch weights (.npz); default OUT/torch")
    train.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ev = sub.add_parser("evaluate", help="measure a model folder on held-out synthetic images")
    ev.add_argument("--model", type=Path, required=True)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--quick", action="store_true")
    ev.add_argument("--threads", type=int, default=2)
    ev.add_argument("--write", action="store_true", help="store the metrics in manifest.json")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    torch.set_num_threads(args.threads)
    config = cfg.QUICK if args.quick else cfg.FULL
    start = time.monotonic()
    if args.command == "train":
        from training.run import train_csv, train_synthetic

        weights = args.weights_dir or args.out / "torch"
        if args.csv is not None:
            train_csv(args.csv, args.out, weights, config, args.seed)
        else:
            train_synthetic(args.out, weights, config, args.seed, args.cache)
    else:
        from training.run import evaluate_folder

        evaluate_folder(args.model, config, args.seed, write=args.write)
    log.info("%s done in %.0f s", args.command, time.monotonic() - start)
    return 0

"""`mammolens demo [--out DIR] [--seed N]`: write the synthetic four-view demo study.

The study goes to the user's cache folder (platformdirs, app "MammoLens", "demo-study-<seed>")
unless --out says otherwise, and is regenerated only when missing or incomplete. The images are
synthetic: no patient data, not for clinical use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from viewer.dicomio.synthetic import DemoStudy
from viewer.dicomio.synthetic_study import load_demo_study, write_demo_study

DEFAULT_SEED = 2026


def default_demo_folder(seed: int = DEFAULT_SEED) -> Path:
    """Where the demo study of this seed lives by default (the user's cache folder)."""
    return platformdirs.user_cache_path("MammoLens", appauthor=False) / f"demo-study-{seed}"


def ensure_demo_study(seed: int = DEFAULT_SEED, folder: Path | None = None) -> DemoStudy:
    """The demo study of `seed`, written first if missing or incomplete (takes a few seconds)."""
    target = default_demo_folder(seed) if folder is None else Path(folder)
    existing = load_demo_study(target, seed)
    return existing if existing is not None else write_demo_study(target, seed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mammolens demo",
        description="Write the synthetic four-view demo mammography study (not patient data).",
    )
    parser.add_argument("--out", type=Path, default=None, help="folder (default: user cache)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    return parser


def main(argv: Sequence[str]) -> int:
    """Write (or find) the demo study and print where it is; exit 0, or 2 on a bad argument."""
    args = _parser().parse_args(list(argv))
    if args.seed < 0:
        print(
            f"mammolens demo: --seed {args.seed}: expected a non-negative integer", file=sys.stderr
        )
        return 2
    target = default_demo_folder(args.seed) if args.out is None else args.out
    already = load_demo_study(target, args.seed) is not None
    try:
        study = ensure_demo_study(args.seed, target)
    except OSError as exc:
        print(f"mammolens demo: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    state = "already present" if already else "written"
    print(f"Synthetic demo study ({state}, not patient data): {study.folder}")
    for path in study.image_paths:
        print(f"  {path.name}")
    print(f"  {study.truth_path.name} (lesion ground truth)")
    return 0

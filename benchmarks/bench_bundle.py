"""Installer benchmark: bundle size, what makes it up, and cold start to the first window.

    .venv/bin/python benchmarks/bench_bundle.py [--app dist/mammolens] [--runs 3]

Builds the bundle with build_spec/build.sh unless --app names one. Prints figures against the
budgets of the installer issue (<= 1 GB unpacked, <= 400 MB archive, first window <= 3 s);
it reports, it does not assert. Start-up is timed from process creation to the line the app
prints once its main window has been painted (MAMMOLENS_EXIT_AFTER_FIRST_WINDOW=1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
GROUPS = {
    "onnxruntime": ("onnxruntime", "libonnxruntime"),
    "SimpleITK": ("SimpleITK", "_SimpleITK"),
    "Qt / PySide6": ("PySide6", "shiboken6", "libQt6", "libicu"),
    "numpy": ("numpy",),
    "Python runtime": ("libpython", "python3", "base_library", "lib-dynload"),
    "codecs (openjpeg, libjpeg, rle)": ("_openjpeg", "_libjpeg", "rle", "openjpeg", "libjpeg"),
    "models + resources": ("resources",),
}


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def breakdown(internal: Path) -> dict[str, int]:
    sizes = dict.fromkeys([*GROUPS, "other"], 0)
    for entry in internal.iterdir():
        size = tree_size(entry) if entry.is_dir() else entry.stat().st_size
        group = next((g for g, keys in GROUPS.items() if entry.name.startswith(keys)), "other")
        sizes[group] += size
    return sizes


def first_window_seconds(app: Path) -> float:
    env = {**os.environ, "MAMMOLENS_EXIT_AFTER_FIRST_WINDOW": "1"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen" if not env.get("DISPLAY") else "xcb")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(app / "mammolens")], env=env, stdout=subprocess.PIPE, text=True, cwd="/tmp"
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("first window"):
            elapsed = time.perf_counter() - start
            proc.wait(timeout=60)
            return elapsed
    proc.wait(timeout=60)
    raise RuntimeError(f"the app exited ({proc.returncode}) without showing its window")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", type=Path, help="an existing one-folder bundle")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    app = args.app
    if app is None:
        dist = ROOT / "dist"
        t0 = time.perf_counter()
        subprocess.run(["bash", str(ROOT / "build_spec" / "build.sh"), str(dist)], check=True)
        print(f"build time: {time.perf_counter() - t0:.0f} s")
        app = dist / "mammolens"
    unpacked = tree_size(app)
    archives = sorted(app.parent.glob("mammolens-*.tar.gz"))
    ratio = unpacked / (1024 * MB)
    print(f"unpacked bundle: {unpacked / MB:.0f} MB (budget 1024 MB, ratio {ratio:.2f})")
    if archives:
        size = archives[-1].stat().st_size
        ratio = size / (400 * MB)
        print(f"archive {archives[-1].name}: {size / MB:.0f} MB (budget 400 MB, ratio {ratio:.2f})")
    for group, size in sorted(breakdown(app / "_internal").items(), key=lambda kv: -kv[1]):
        print(f"  {group:32s} {size / MB:7.1f} MB  {100 * size / unpacked:4.1f} %")
    times = [first_window_seconds(app) for _ in range(args.runs)]
    each = ", ".join(f"{t:.2f} s" for t in times)
    median = statistics.median(times)
    print(f"first window: {each}; first {times[0]:.2f} s, median {median:.2f} s (budget 3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`mammolens --selftest` from the source install, with the network forbidden.

The same self-test runs from the PyInstaller bundle in tests/installer/test_bundle.py; this one
keeps the check fast to run while developing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_selftest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must pick offscreen by itself
    env["MAMMOLENS_FORBID_NETWORK"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "viewer", "--selftest", *args],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_selftest_passes_with_the_bundled_model() -> None:
    proc = run_selftest()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("selftest: OK"))
    summary = json.loads(line.removeprefix("selftest: OK"))
    assert summary["images"] == 4
    assert summary["lesions"] == 4 and summary["lesions_found"] == 4
    assert summary["provider"] in ("CPU", "CUDA")


def test_selftest_fails_with_the_reason_for_a_broken_model(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    proc = run_selftest("--model", str(tmp_path))
    assert proc.returncode == 1
    assert "selftest: FAILED" in proc.stdout
    assert "manifest.json" in proc.stdout and "JSON" in proc.stdout

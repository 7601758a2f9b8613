"""Lint, format and types (../shared/STYLE.md habit 7), checked on every run like any test."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean() -> None:
    proc = run(str(BIN / "ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout[-5000:]


def test_ruff_format_is_clean() -> None:
    proc = run(str(BIN / "ruff"), "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout[-5000:]


def test_mypy_types_every_shipped_and_training_module() -> None:
    proc = run(str(BIN / "mypy"), "viewer", "inference", "training")
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert "Success" in proc.stdout

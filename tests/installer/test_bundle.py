"""The installer path: build the PyInstaller bundle and run its self-test the way a user would.

Slow (about two minutes): the build is made once per session. The bundle runs from a clean
directory, with no virtual environment on PATH, no PYTHONPATH, in a network namespace without
any network (`unshare -n`, where the kernel allows it) and with the app's own network guard on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        ["bash", str(ROOT / "build_spec" / "build.sh"), str(dist)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    app = dist / "mammolens"
    assert (app / "mammolens").is_file()
    return app


def clean_env(home: Path) -> dict[str, str]:
    """What a user's shell has: no venv, no PYTHONPATH, no display, no Qt platform forced."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    env["MAMMOLENS_FORBID_NETWORK"] = "1"
    return env


def offline_prefix() -> list[str]:
    """`unshare -n` puts the command in a network namespace with no interface but loopback-down."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def run_bundle(app: Path, args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    work = tmp / "clean-cwd"
    work.mkdir(exist_ok=True)
    env = clean_env(tmp / "home")
    return subprocess.run(
        [*offline_prefix(), str(app / "mammolens"), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_bundle_selftest_passes_offline(bundle: Path, tmp_path: Path) -> None:
    proc = run_bundle(bundle, ["--selftest"], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "selftest: OK" in proc.stdout
    summary = json.loads(proc.stdout.split("selftest: OK", 1)[1].strip().splitlines()[0])
    assert summary["images"] == 4
    assert summary["lesions_found"] == summary["lesions"] >= 1


def test_bundle_selftest_fails_loudly_with_a_broken_model(bundle: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    proc = run_bundle(bundle, ["--selftest", "--model", str(broken)], tmp_path)
    assert proc.returncode != 0
    assert "selftest: FAILED" in proc.stdout + proc.stderr
    assert "manifest" in (proc.stdout + proc.stderr).lower()


def test_bundle_contents(bundle: Path) -> None:
    files = [p.relative_to(bundle).as_posix() for p in bundle.rglob("*")]
    assert not [f for f in files if "torch" in f.lower()], "the bundle must never contain torch"
    assert not [f for f in files if f.startswith("_internal/training")]
    internal = bundle / "_internal"
    notices = (internal / "licenses" / "THIRD_PARTY_NOTICES.txt").read_text()
    for dist in ("PySide6", "onnxruntime", "pydicom", "SimpleITK", "pyqtgraph", "numpy"):
        assert dist.lower() in notices.lower(), dist
    manifests = list((internal / "resources" / "models").glob("*/manifest.json"))
    assert manifests, "the bundled models' manifests must ship"
    for manifest in manifests:
        data = json.loads(manifest.read_text())
        assert "not for clinical use" in json.dumps(data).lower()
    assert (internal / "resources" / "linux" / "mammolens.desktop").is_file()
    assert (internal / "resources" / "icons" / "mammolens.png").is_file()


def test_bundle_headless_commands_need_no_python(bundle: Path, tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    src = get_testdata_file("CT_small.dcm", download=False)
    out = tmp_path / "ct.png"
    proc = run_bundle(bundle, ["render", str(src), "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "not-dicom.dcm"
    bad.write_bytes(b"hello")
    proc = run_bundle(bundle, ["render", str(bad), "-o", str(out)], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and str(bad) in proc.stderr


def test_environment_is_really_clean() -> None:
    env = clean_env(Path("/tmp"))
    assert "VIRTUAL_ENV" not in env and "PYTHONPATH" not in env
    assert ".venv" not in env["PATH"]
    assert os.sep + "python" not in env["PATH"]

"""Fixtures: a written test model folder and a CPU Analyzer on it (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference import Analyzer, Device
from tests.inference.testmodels import write_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def analyzer(model_dir: Path) -> Analyzer:
    return Analyzer(model_dir, Device.CPU)


@pytest.fixture
def fresh_model(tmp_path: Path) -> Path:
    """A model folder a test may break."""
    return write_model(tmp_path / "model")

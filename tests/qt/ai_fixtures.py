"""Fixtures and helpers of the AI GUI tests: stand-in model, demo study, a window with AI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from inference import Analyzer, Device
from tests.inference.testmodels import write_model
from tests.qt.conftest import open_and_wait
from tests.qt.test_layers_and_color import colour_at  # noqa: F401 (re-exported)
from viewer import dicomio
from viewer.commands.demo import ensure_demo_study
from viewer.dicomio.synthetic import DemoStudy
from viewer.qt.ai_controller import AiController, install_ai
from viewer.qt.ai_settings import AiOptions
from viewer.qt.main_window import MainWindow


@pytest.fixture(scope="session")
def standin_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in two-stage model of tests/inference (fast), at demo-like sizes."""
    return write_model(tmp_path_factory.mktemp("ai_model"), grid=(512, 416), crop=256)


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in model at its default (tiny) sizes, for small generated images."""
    return write_model(tmp_path_factory.mktemp("ai_small_model"))


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory: pytest.TempPathFactory) -> DemoStudy:
    """The synthetic four-view demo study, written once per session under tmp."""
    return ensure_demo_study(folder=tmp_path_factory.mktemp("demo") / "study")


def ai_window(
    qtbot, settings, model_dir: Path, top_k: int = 6, auto_run: bool = True
) -> tuple[MainWindow, AiController]:
    """A shown main window with the AI installed on `model_dir` (CPU)."""
    window = MainWindow(settings)
    controller = install_ai(window, AiOptions(model_dir, Device.CPU, top_k, auto_run))
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.wait())
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    return window, controller


def open_study(qtbot, window: MainWindow, paths: list[Path]) -> None:
    """Open `paths` and wait until every view shows its image."""
    open_and_wait(qtbot, window, paths, slots=len(paths))


def lesions_of(study: DemoStudy, name: str) -> list[dict]:
    """Ground-truth lesions of one view ("RCC.dcm", ...)."""
    truth = json.loads(study.truth_path.read_text())
    return next(v["lesions"] for v in truth["views"] if v["file"] == name)


def canvas_of(window: MainWindow, file_name: str):
    """The canvas showing the file named `file_name`."""
    for canvas in window.grid.canvases:
        if canvas.display is not None and Path(canvas.display.image.header.path).name == file_name:
            return canvas
    raise AssertionError(f"no canvas shows {file_name}")


def wait_all(qtbot, controller: AiController, window: MainWindow, timeout_s: float = 120) -> None:
    """Wait until every view has a result."""
    for canvas in window.grid.canvases:
        controller.wait_for_result(timeout_s, canvas)
    qtbot.waitUntil(lambda: not controller.busy, timeout=int(timeout_s * 1000))
    QtCore.QCoreApplication.processEvents()


def engine_result(model_dir: Path, path: Path, device: Device = Device.CPU):
    """The Analyzer run directly on the same file, as the worker does."""
    image = dicomio.load_image(path)
    header = image.header
    values = np.ascontiguousarray(dicomio.ai_input(image), np.float32)
    return Analyzer(model_dir, device).analyze(
        values,
        pixel_spacing_mm=header.pixel_spacing[0],
        laterality=header.laterality,
        view=header.view_position,
        sop_instance_uid=header.sop_instance_uid,
    )

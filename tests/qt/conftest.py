"""GUI tests run offscreen, with isolated settings, and fail when they leak top-level widgets."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

import viewer.qt  # noqa: F401  (sets pyqtgraph's row-major image axis order)
from viewer.qt.main_window import MainWindow
from viewer.qt.settings import Settings


def _alive_top_levels() -> set[int]:
    return {id(w) for w in QtWidgets.QApplication.topLevelWidgets() if w.isVisible()}


def leaked_widgets(before: set[int]) -> list[QtWidgets.QWidget]:
    """Visible top-level widgets that were not there `before`."""
    return [
        w for w in QtWidgets.QApplication.topLevelWidgets()
        if w.isVisible() and id(w) not in before
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def no_leaked_widgets(qapp: QtWidgets.QApplication) -> Iterator[None]:
    """Fail the test if it leaves a visible top-level widget behind (napari's leak check).

    Autouse and depending only on `qapp`, it is torn down after pytest-qt closed the widgets
    registered with `qtbot.addWidget`, so only real leaks remain.
    """
    before = _alive_top_levels()
    yield
    QtCore.QThreadPool.globalInstance().waitForDone(10000)
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
        QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    leaked = leaked_widgets(before)
    for widget in leaked:
        widget.close()
        widget.deleteLater()
    assert not leaked, f"test leaked top-level widgets: {leaked}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings in an INI file of this test only."""
    store = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    return Settings(store)


@pytest.fixture
def window(qtbot, settings: Settings) -> MainWindow:
    """A shown main window with isolated settings; its workers finish before it closes."""
    main = MainWindow(settings)
    qtbot.addWidget(main, before_close_func=lambda w: w.jobs.wait())
    main.resize(1000, 800)
    main.show()
    qtbot.waitExposed(main)
    return main


def open_and_wait(qtbot, window: MainWindow, paths: list[Path], slots: int = 1) -> None:
    """Open `paths` and wait until `slots` canvases show newly loaded images."""
    before = [c.display for c in window.grid.canvases]
    window.open_paths(paths)

    def shown() -> bool:
        canvases = window.grid.canvases
        return len(canvases) == slots and all(
            c.display is not None and (i >= len(before) or c.display is not before[i])
            for i, c in enumerate(canvases)
        )

    qtbot.waitUntil(shown, timeout=20000)
    window.jobs.wait()

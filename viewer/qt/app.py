"""`mammolens [PATHS...]` and `mammolens --demo`: start the Qt application and the main window."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from viewer import dicomio
from viewer.qt.ai_controller import install_ai
from viewer.qt.main_window import MainWindow

ICON = Path(__file__).resolve().parents[2] / "resources" / "icons" / "mammolens.png"
# Set by benchmarks/bench_bundle.py: report once the first window is painted, then quit.
EXIT_AFTER_FIRST_WINDOW = "MAMMOLENS_EXIT_AFTER_FIRST_WINDOW"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """PATHS (files, folders, DICOMDIR) and --demo."""
    parser = argparse.ArgumentParser(prog="mammolens", description="MammoLens DICOM viewer")
    parser.add_argument("paths", nargs="*", type=Path, help="DICOM files, folders or DICOMDIR")
    parser.add_argument("--demo", action="store_true", help="open the synthetic demo study")
    return parser.parse_args(list(argv))


def demo_paths() -> list[Path]:
    """The demo study's files, generated into the user cache on first use."""
    from viewer.commands.demo import ensure_demo_study

    return [Path(p) for p in ensure_demo_study().image_paths]


def main(argv: Sequence[str]) -> int:
    """Run the viewer until its window closes; returns the exit status."""
    args = parse_args(argv)
    paths = list(args.paths)
    if args.demo:
        paths += demo_paths()
    existing = QtWidgets.QApplication.instance()
    app = (
        existing
        if isinstance(existing, QtWidgets.QApplication)
        else QtWidgets.QApplication(sys.argv[:1])
    )
    app.setApplicationName("MammoLens")
    app.setOrganizationName("MammoLens")
    if ICON.exists():
        app.setWindowIcon(QtGui.QIcon(str(ICON)))
    # The local study index (SQLite, user cache folder): reopening a folder skips unchanged files.
    window = MainWindow(header_cache=dicomio.HeaderCache())
    install_ai(window)  # the model loads in the background; without one the viewer says why
    if window.settings.window_state()[0] is None:  # first start: use the whole screen
        window.setGeometry(app.primaryScreen().availableGeometry())  # also without a WM
        window.showMaximized()
    else:
        window.show()
    if paths:
        window.open_paths(paths)
    if os.environ.get(EXIT_AFTER_FIRST_WINDOW) == "1":
        QtCore.QTimer.singleShot(0, lambda: _report_first_window(app, window))
    return int(app.exec())


def _report_first_window(app: QtWidgets.QApplication, window: QtWidgets.QWidget) -> None:
    window.repaint()  # synchronous: the window's pixels exist when the line is printed
    print("first window painted", flush=True)
    app.quit()

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
from viewer.resources import icon_path

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
    if icon_path().exists():
        app.setWindowIcon(QtGui.QIcon(str(icon_path())))
    # The local study index (SQLite, user cache folder): reopening a folder skips unchanged files.
    window = MainWindow(header_cache=dicomio.HeaderCache())
    install_ai(window)  # the model loads in the background; without one the viewer says why
    show_window(window, app.primaryScreen().availableGeometry())
    if paths:
        window.open_paths(paths)
    if os.environ.get(EXIT_AFTER_FIRST_WINDOW) == "1":
        QtCore.QTimer.singleShot(0, lambda: _report_first_window(app, window))
    return int(app.exec())


# A restored window smaller than this (a screen change, a window shrunk by accident) would leave
# the images a sliver between the docks: such a window opens on the whole screen instead.
MIN_RESTORED_SIZE = QtCore.QSize(1024, 700)


def show_window(window: MainWindow, screen: QtCore.QRect) -> None:
    """Show the main window: the saved geometry if usable on this screen, else the whole screen."""
    saved = window.geometry()
    usable = (
        window.settings.window_state()[0] is not None
        and saved.width() >= min(MIN_RESTORED_SIZE.width(), 0.85 * screen.width())
        and saved.height() >= min(MIN_RESTORED_SIZE.height(), 0.85 * screen.height())
        and screen.intersects(saved)
    )
    if usable:
        window.show()
        return
    window.setGeometry(screen)  # also without a window manager (Xvfb, some kiosks)
    window.showMaximized()


def _report_first_window(app: QtWidgets.QApplication, window: QtWidgets.QWidget) -> None:
    window.repaint()  # synchronous: the window's pixels exist when the line is printed
    print("first window painted", flush=True)
    app.quit()

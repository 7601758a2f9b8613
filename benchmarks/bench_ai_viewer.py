"""Window/level while the AI analyses, offscreen: prints figures and the ratio (no assertions).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_ai_viewer.py [--frames N]
        [--model DIR]

A 1600 x 1200 main window with the AI installed shows the demo RCC view (4096 x 3328) with its
AI layers on. W/L steps (set the window, render the window into a QImage, let queued events run)
are timed idle and while analyses of the same image run back to back in the background,
interleaved in blocks so both see the same machine load. Goal: busy median < 2 x idle median.
Also printed: the longest gap between frames while busy (the GUI thread's responsiveness) and
the analyses completed. Model: --model, else the bundled one, else the tests' stand-in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

CANVAS = (1600, 1200)
BLOCK = 10  # frames per idle / busy block


def pick_model(requested: Path | None, scratch: Path) -> Path:
    """--model, the bundled model when present, else the stand-in of tests/inference."""
    from viewer.commands.analyze import default_model_dir

    if requested is not None:
        return requested
    if (default_model_dir() / "manifest.json").is_file():
        return default_model_dir()
    from tests.inference.testmodels import write_model

    print("bundled model missing: using the tests' stand-in model (timings only)")
    return write_model(scratch / "standin", grid=(512, 416), crop=256)


def wait_until(condition: object, timeout_s: float = 120.0) -> None:
    """Process events until `condition()` is true."""
    from PySide6 import QtWidgets

    deadline = time.perf_counter() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark set-up timed out")
        QtWidgets.QApplication.processEvents()
        time.sleep(0.005)


def frame(window: object, display: object, target: object, step: int) -> float:
    """One W/L step with paint and event processing; seconds."""
    from PySide6 import QtWidgets

    center, width = display.default_voi.window.center, display.default_voi.window.width  # type: ignore[attr-defined]
    start = time.perf_counter()
    display.set_window(center + (step % 20) * 8, width + (step % 7) * 16)  # type: ignore[attr-defined]
    QtWidgets.QWidget.render(window.grid, target)  # type: ignore[attr-defined]
    QtWidgets.QApplication.processEvents()
    return time.perf_counter() - start


def main() -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    from PySide6 import QtCore, QtGui, QtWidgets

    from inference import Device
    from viewer.dicomio.synthetic import write_demo_study
    from viewer.qt.ai_controller import install_ai
    from viewer.qt.ai_settings import AiOptions
    from viewer.qt.main_window import MainWindow
    from viewer.qt.settings import Settings

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        model = pick_model(args.model, Path(tmp))
        rcc = next(
            p for p in write_demo_study(Path(tmp) / "demo").image_paths if p.name == "RCC.dcm"
        )
        store = QtCore.QSettings(str(Path(tmp) / "b.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(Settings(store))
        ai = install_ai(window, AiOptions(model, Device.CPU, 6, True))
        window.resize(*CANVAS)
        window.show()
        window.open_paths([rcc])
        wait_until(lambda: window.grid.canvases[0].display is not None)
        result = ai.wait_for_result(300)
        display = window.grid.canvases[0].display
        target = QtGui.QImage(window.grid.size(), QtGui.QImage.Format.Format_RGB32)
        done = [0]
        busy_mode = [False]

        def again(*_: object) -> None:
            done[0] += 1
            if busy_mode[0]:
                ai.analyze()

        ai.analysis_done.connect(again)
        idle, busy, gaps = [], [], []
        for block in range(max(1, args.frames // BLOCK)):
            busy_mode[0] = False
            wait_until(lambda: not ai.busy)
            for i in range(BLOCK):
                idle.append(frame(window, display, target, block * BLOCK + i))
            busy_mode[0] = True
            ai.analyze()
            last = time.perf_counter()
            for i in range(BLOCK):
                busy.append(frame(window, display, target, block * BLOCK + i))
                now = time.perf_counter()
                gaps.append(now - last)
                last = now
        busy_mode[0] = False
        wait_until(lambda: not ai.busy)
        report(result, ai.provider_name, idle, busy, gaps, done[0] - 1)
        window.close()
    app.processEvents()
    return 0


def report(result: object, provider: str, idle: list, busy: list, gaps: list, runs: int) -> None:
    """Print the figures."""
    im, ip = np.median(idle) * 1000, np.percentile(idle, 95) * 1000
    bm, bp = np.median(busy) * 1000, np.percentile(busy, 95) * 1000
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average: {load} (2 shared cores: other processes skew the figures)")
    print(f"model on {provider}; one analysis {result.timings_ms['total']:.0f} ms in the worker")  # type: ignore[attr-defined]
    print(f"W/L frame, 4096 x 3328 RCC with AI layers, {CANVAS[0]} x {CANVAS[1]} window, paint "
          f"and events included, {len(idle)} frames each:")  # fmt: skip
    print(f"  idle                 median {im:7.2f} ms   p95 {ip:7.2f} ms")
    print(f"  during analysis      median {bm:7.2f} ms   p95 {bp:7.2f} ms")
    print(f"  ratio (median)       {bm / im:7.2f} x   goal: < 2 x")
    print(f"  longest frame-to-frame gap during analysis {max(gaps) * 1000:.1f} ms; "
          f"{runs} analyses completed meanwhile")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

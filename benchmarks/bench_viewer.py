"""Viewer speed and memory, offscreen: prints figures and ratios (no assertions).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_viewer.py [--frames N]

1. Window/level frame time on a 4096 x 3328 12-bit image in a 1600 x 1200 canvas, paint included
   (the view is rendered into a QImage each frame): MammoLens vs a stock pyqtgraph ImageItem
   holding the full image and doing setLevels, same image, same run.
2. Open to first pixels on screen for the uncompressed demo view (RCC), through the main window.
3. JPEG 2000 lossless (demo LCC): load_image vs a bare pylibjpeg-openjpeg decode of the same frame.
4. The four demo views opened together vs one view (wall time).
5. Peak memory while the demo study is open vs the bytes of its decoded pixels (fresh process).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

if TYPE_CHECKING:
    from PySide6 import QtGui, QtWidgets

    from viewer.qt.main_window import MainWindow

CANVAS = (1600, 1200)


def demo_study(folder: Path) -> list[Path]:
    """The four demo views (RCC, LCC, RMLO, LMLO), written once into `folder`."""
    from viewer.dicomio.synthetic import write_demo_study

    return [Path(p) for p in write_demo_study(folder).image_paths]


def percentiles(times: list[float]) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    ms = np.asarray(times) * 1000.0
    return float(np.median(ms)), float(np.percentile(ms, 95))


def render(widget: QtWidgets.QWidget, image: QtGui.QImage) -> None:
    """Paint `widget` (and its children) into `image`: forces the frame to be drawn."""
    from PySide6 import QtWidgets

    QtWidgets.QWidget.render(widget, image)


def bench_windowing(path: Path, frames: int) -> None:
    """MammoLens canvas vs stock ImageItem.setLevels, W/L steps with paint, interleaved.

    The two are timed alternately, frame by frame, so both see the same machine load.
    """
    import pyqtgraph as pg
    from PySide6 import QtGui

    from viewer import dicomio
    from viewer.model import ImageDisplay, ViewerState
    from viewer.qt.canvas import ImageCanvas

    image = dicomio.load_image(path)
    stored = image.stored[0]
    display = ImageDisplay(image, dicomio.default_voi(image))
    canvas = ImageCanvas(ViewerState())
    canvas.resize(*CANVAS)
    canvas.show()
    canvas.set_display(display)
    stock_view = pg.GraphicsView()
    box = pg.ViewBox(invertY=True, lockAspect=True)
    stock_view.setCentralItem(box)
    item = pg.ImageItem(stored, axisOrder="row-major", autoLevels=False, levels=(0, 4095))
    box.addItem(item)
    stock_view.resize(*CANVAS)
    stock_view.show()
    box.autoRange(padding=0)
    target = QtGui.QImage(*CANVAS, QtGui.QImage.Format.Format_RGB32)
    render(canvas, target)
    render(stock_view, target)
    center, width = display.window.center, display.window.width
    ours, stock = [], []
    for i in range(frames):
        step_c, step_w = (i % 20) * 8, (i % 7) * 16
        start = time.perf_counter()
        display.set_window(center + step_c, width + step_w)
        render(canvas, target)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        low = center + step_c - (width + step_w) / 2
        item.setLevels((low, low + width + step_w))
        render(stock_view, target)
        stock.append(time.perf_counter() - start)
    (om, op), (sm, sp) = percentiles(ours), percentiles(stock)
    print(f"W/L frame, {stored.shape[0]} x {stored.shape[1]} image ({path.name}), "
          f"{CANVAS[0]} x {CANVAS[1]} canvas, paint included, {frames} frames each:")  # fmt: skip
    print(f"  MammoLens           median {om:7.2f} ms   p95 {op:7.2f} ms")
    print(f"  stock setLevels     median {sm:7.2f} ms   p95 {sp:7.2f} ms")
    print(f"  speed-up (median)   {sm / om:7.1f} x   goal: <= 8 ms and >= 2 x")
    canvas.close()
    stock_view.close()


def open_and_wait(window: MainWindow, paths: list[Path], slots: int) -> float:
    """Seconds from `open_paths` until `slots` canvases have pixels and were painted.

    Waits in a Qt event loop (not a processEvents spin, which would take a core from the
    decoder processes on a small machine).
    """
    from PySide6 import QtCore, QtGui

    shown: set[int] = set()
    loop = QtCore.QEventLoop()

    def on_shown(slot: int) -> None:
        shown.add(slot)
        if len(shown) >= slots:
            loop.quit()

    window.image_shown.connect(on_shown)
    QtCore.QTimer.singleShot(120_000, loop.quit)
    start = time.perf_counter()
    window.open_paths(paths)
    loop.exec()
    if len(shown) < slots:
        raise TimeoutError(f"{paths}: not shown after 120 s")
    target = QtGui.QImage(window.size(), QtGui.QImage.Format.Format_RGB32)
    render(window, target)
    elapsed = time.perf_counter() - start
    window.image_shown.disconnect(on_shown)
    settle(window)
    return elapsed


def settle(window: MainWindow) -> None:
    """Let the delayed thumbnail jobs start and finish, so the next open runs alone."""
    from PySide6 import QtCore

    from viewer.qt.main_window import THUMBNAIL_DELAY_MS

    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(THUMBNAIL_DELAY_MS + 100, loop.quit)
    loop.exec()
    window.jobs.wait()


def new_window(tmp: Path) -> MainWindow:
    """A main window with throw-away settings, 1600 x 1200, shown offscreen."""
    from PySide6 import QtCore

    from viewer.qt.main_window import MainWindow
    from viewer.qt.settings import Settings

    store = QtCore.QSettings(str(tmp / "bench.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(Settings(store))
    window.resize(*CANVAS)
    window.show()
    return window


def bench_open(paths: list[Path], tmp: Path) -> None:
    """Open to first pixels (uncompressed RCC), 4 views vs 1, JPEG 2000 vs bare decode."""
    rcc, lcc = paths[0], paths[1]
    window = new_window(tmp)
    for _ in range(3):  # warm up: imports, and every decoder process once (they alternate)
        open_and_wait(window, [lcc], 1)
    single = [open_and_wait(window, [rcc], 1) for _ in range(5)]
    print(f"Open to first pixels, uncompressed {rcc.name}: median "
          f"{statistics.median(single) * 1000:.0f} ms (goal <= 150 ms)")  # fmt: skip
    four = [open_and_wait(window, paths, 4) for _ in range(3)]
    one_j2k = [open_and_wait(window, [lcc], 1) for _ in range(3)]
    one = max(statistics.median(one_j2k), statistics.median(single))
    print(f"Four views together: {statistics.median(four) * 1000:.0f} ms; slowest single view "
          f"{one * 1000:.0f} ms; ratio {statistics.median(four) / one:.2f} (goal < 2)")  # fmt: skip
    window.close()
    bench_jpeg2000(lcc, window_open_s=statistics.median(one_j2k))


def bench_jpeg2000(path: Path, window_open_s: float) -> None:
    """load_image (isolated decoder process) vs bare openjpeg decode of the same frame."""
    import pydicom
    from openjpeg import decode
    from pydicom.encaps import generate_frames

    from viewer import dicomio

    dataset = pydicom.dcmread(path)
    frame = next(generate_frames(dataset.PixelData, number_of_frames=1))
    bare = []
    for _ in range(3):
        start = time.perf_counter()
        decode(frame)
        bare.append(time.perf_counter() - start)
    pool = dicomio.DecoderPool()
    try:
        dicomio.load_image(path, pool)  # warm the worker process
        loads = []
        for _ in range(3):
            start = time.perf_counter()
            dicomio.load_image(path, pool)
            loads.append(time.perf_counter() - start)
    finally:
        for name in ("close", "shutdown"):
            if hasattr(pool, name):
                getattr(pool, name)()
                break
    b, lo = statistics.median(bare), statistics.median(loads)
    print(f"JPEG 2000 lossless {path.name}: bare openjpeg {b * 1000:.0f} ms, load_image "
          f"{lo * 1000:.0f} ms (ratio {lo / b:.2f}, goal <= 1.2), window open to pixels "
          f"{window_open_s * 1000:.0f} ms (ratio {window_open_s / b:.2f})")  # fmt: skip


def current_rss(field: str = "VmRSS") -> int:
    """Resident bytes of this process now (VmRSS) or at its peak (VmHWM), from Linux /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> None:
    """Start the VmHWM high-water mark afresh (Linux >= 4.0), so the peak is the open's own."""
    Path("/proc/self/clear_refs").write_text("5")


def bench_memory(folder: Path) -> None:
    """In this fresh process: peak RSS growth while the demo study opens vs decoded bytes.

    `folder` holds the demo study written by the parent (not regenerated: the generator's
    own peak would hide the viewer's).
    """
    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    paths = [folder / f"{name}.dcm" for name in ("RCC", "LCC", "RMLO", "LMLO")]
    window = new_window(folder)
    reset_peak_rss()
    base = current_rss()
    open_and_wait(window, paths, 4)
    peak = current_rss("VmHWM")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    decoded = sum(c.display.image.stored.nbytes for c in window.grid.canvases if c.display)
    print(f"Peak memory, demo study open: +{(peak - base) / 2**20:.0f} MiB in the viewer process "
          f"(largest decoder process {children / 2**20:.0f} MiB) for {decoded / 2**20:.0f} MiB "
          f"of decoded pixels: ratio {(peak - base) / decoded:.2f} (goal <= 4)")  # fmt: skip
    window.close()


def main() -> None:
    """Run every benchmark; memory in a fresh child process so it is not inflated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--memory-only", type=Path, default=None)
    args = parser.parse_args()
    if args.memory_only is not None:
        bench_memory(args.memory_only)
        return
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        paths = demo_study(Path(tmp))
        bench_windowing(paths[0], args.frames)
        bench_open(paths, Path(tmp))
        subprocess.run([sys.executable, __file__, "--memory-only", tmp], check=False)
    app.processEvents()


if __name__ == "__main__":
    main()

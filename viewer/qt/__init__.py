"""The Qt GUI: main window, image canvases, panels and workers (PySide6 + pyqtgraph + superqt).

pyqtgraph's image axis order is set once here: DICOM arrays are (rows, cols), row-major.
"""

import ctypes
import sys

import pyqtgraph as pg


def _make_none_immortal() -> None:
    """Work around PySide6 6.12 on CPython 3.11: every call of a void Qt method decrefs None.

    Measured here: `QLabel.setText`, `QCoreApplication.processEvents`, `QTimer()` each drop
    None's reference count by one, so a few thousand calls (a minute of window/level dragging)
    reach zero and abort the interpreter ("Fatal Python error: none_dealloc"). CPython 3.12 made
    None immortal (PEP 683) which is why the bug hides there; we do the same by giving None a
    reference count no session can exhaust.
    """
    if sys.implementation.name == "cpython" and sys.version_info < (3, 12):
        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


_make_none_immortal()
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

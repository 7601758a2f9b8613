"""Process-wide fixes the GUI process needs, applied once when `viewer.qt` is imported."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc mallopt parameter: allocations above this many bytes are mmapped and unmapped on free.
_M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 4 << 20


def make_none_immortal() -> None:
    """Work around PySide6 6.12 on CPython 3.11: every call of a void Qt method decrefs None.

    Measured here: `QLabel.setText`, `QCoreApplication.processEvents`, `QTimer()` each drop
    None's reference count by one, so a few thousand calls (a minute of window/level dragging)
    reach zero and abort the interpreter ("Fatal Python error: none_dealloc"). CPython 3.12 made
    None immortal (PEP 683), which is why the bug hides there; we do the same by giving None a
    reference count no session can exhaust.
    """
    if sys.implementation.name == "cpython" and sys.version_info < (3, 12):
        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


def return_large_buffers_to_the_os() -> None:
    """Pixel buffers (tens of MB) freed by worker threads go back to the OS at once.

    glibc raises its mmap threshold after the first large free, after which 10-30 MB image
    buffers come from per-thread arenas that are never trimmed: the resident size of a viewer
    that opened four mammograms then stays several times their size. A fixed threshold keeps
    large buffers mmapped. No effect where glibc is absent.
    """
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES)
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return

"""Process-wide fixes the GUI process needs, applied once when `viewer.qt` is imported."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc mallopt parameter: allocations above this many bytes are mmapped and unmapped on free.
_M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 4 << 20


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

"""Start-up check for the system libraries Qt's Linux window plugin (xcb) needs.

A fresh Debian/Ubuntu lacks several of them, and Qt then dies with an opaque "could not load the
Qt platform plugin xcb". We look for each library first and name the missing ones, with the
command that installs them, before Qt is imported.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

# soname stem (as ctypes.util.find_library wants it) -> Debian/Ubuntu package
XCB_LIBRARIES: dict[str, str] = {
    "xcb-cursor": "libxcb-cursor0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-image": "libxcb-image0",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xinerama": "libxcb-xinerama0",
    "xcb-xkb": "libxcb-xkb1",
}


def missing_xcb_packages() -> list[str]:
    """Debian package names of the xcb libraries that cannot be found on this machine."""
    return [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]


def needs_xcb() -> bool:
    """True when Qt will pick its xcb plugin: Linux, a display, no other platform forced."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.startswith("xcb")
    return bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")


def xcb_problem() -> str | None:
    """A one-paragraph explanation when a window cannot open for missing libraries, else None."""
    if not needs_xcb():
        return None
    missing = missing_xcb_packages()
    if not missing:
        return None
    return (
        "MammoLens cannot open a window: Qt's xcb platform plugin needs system libraries that "
        f"are missing: {', '.join(missing)}. Install them with:\n"
        f"  sudo apt-get install {' '.join(missing)}\n"
        "(or run headless commands, or set QT_QPA_PLATFORM=offscreen)."
    )

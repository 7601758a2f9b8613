"""The entry point's own duties: the xcb check and the network guard."""

import os
import socket
import subprocess
import sys

import pytest

from viewer import platform_check


def test_xcb_check_names_missing_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(
        platform_check.ctypes.util,
        "find_library",
        lambda name: None if name in ("xcb-cursor", "xcb-xkb") else f"lib{name}.so",
    )
    problem = platform_check.xcb_problem()
    assert problem is not None
    assert "libxcb-cursor0" in problem and "libxcb-xkb1" in problem
    assert "apt-get install libxcb-cursor0 libxcb-xkb1" in problem
    assert "libxcb-shape0" not in problem


def test_xcb_check_is_silent_offscreen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(platform_check.ctypes.util, "find_library", lambda name: None)
    assert platform_check.xcb_problem() is None


def test_network_guard_blocks_sockets_in_a_fresh_process() -> None:
    code = (
        "from viewer import netguard; import socket, sys\n"
        "assert netguard.install_if_requested()\n"
        "a, b = socket.socketpair(); a.close(); b.close()  # local IPC stays allowed\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except netguard.NetworkForbiddenError:\n"
        "    sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    env = {**os.environ, "MAMMOLENS_FORBID_NETWORK": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()


def test_network_guard_is_off_by_default() -> None:
    code = "from viewer import netguard; import sys; sys.exit(int(netguard.install_if_requested()))"
    env = {k: v for k, v in os.environ.items() if k != "MAMMOLENS_FORBID_NETWORK"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0
    assert socket.socket  # the test process itself is untouched

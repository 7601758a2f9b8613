"""An audit hook that turns any network use by Python code into an error.

MammoLens makes no network connection, ever. With MAMMOLENS_FORBID_NETWORK=1 set (the self-test
and the tests set it), every socket creation, connect or name lookup raises, so a dependency
that phones home cannot do so unnoticed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

FORBIDDEN_EVENTS = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.sendto",
        "socket.bind",
        "urllib.Request",
    }
)
ENV_VAR = "MAMMOLENS_FORBID_NETWORK"


class NetworkForbiddenError(RuntimeError):
    """Raised when code tries to use the network while the guard is on."""


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in FORBIDDEN_EVENTS:
        return
    if (
        event == "socket.__new__"
        and len(args) >= 2
        and args[1] == getattr(__import__("socket"), "AF_UNIX", -1)
    ):
        return  # local IPC (multiprocessing, D-Bus) is not the network
    raise NetworkForbiddenError(f"network use forbidden ({ENV_VAR}=1): {event} {args!r}")


_installed = False


def install_if_requested() -> bool:
    """Install the guard when MAMMOLENS_FORBID_NETWORK=1; audit hooks cannot be removed."""
    global _installed
    if _installed or os.environ.get(ENV_VAR) != "1":
        return _installed
    sys.addaudithook(_hook)
    _installed = True
    return True

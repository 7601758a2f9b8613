"""The `mammolens` console entry point: the GUI by default, headless subcommands by name.

`mammolens [PATHS...]` and `mammolens --demo` open the viewer; `mammolens --selftest` checks an
installation end to end; `mammolens render ...`, `mammolens analyze ...` and `mammolens demo ...`
run headless. Each subcommand lives in its own module under `viewer.commands` and is imported
only when asked for, so a headless command never loads Qt.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
from collections.abc import Sequence

from viewer import netguard, platform_check

SUBCOMMANDS = {
    "render": "viewer.commands.render",
    "analyze": "viewer.commands.analyze",
    "demo": "viewer.commands.demo",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a headless subcommand's `main(argv)`, the self-test, or the GUI."""
    # A frozen (PyInstaller) app re-executes itself for the decoder worker processes.
    multiprocessing.freeze_support()
    netguard.install_if_requested()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[args[0]])
        return int(module.main(args[1:]))
    if "--selftest" in args:
        selftest = importlib.import_module("viewer.selftest")
        return int(selftest.main([a for a in args if a != "--selftest"]))
    problem = platform_check.xcb_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 3
    gui = importlib.import_module("viewer.qt.app")
    return int(gui.main(args))


if __name__ == "__main__":
    sys.exit(main())

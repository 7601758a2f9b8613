"""The `mammolens` console entry point: the GUI by default, headless subcommands by name.

`mammolens [PATHS...]` and `mammolens --demo` open the viewer; `mammolens render ...`,
`mammolens analyze ...` and `mammolens demo ...` run headless. Each subcommand lives in its own
module under `viewer.commands` and is imported only when asked for, so a headless command never
loads Qt and the GUI never loads what it does not need.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = {
    "render": "viewer.commands.render",
    "analyze": "viewer.commands.analyze",
    "demo": "viewer.commands.demo",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a headless subcommand's `main(argv)` or to the GUI's `main(argv)`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[args[0]])
        return int(module.main(args[1:]))
    gui = importlib.import_module("viewer.qt.app")
    return int(gui.main(args))


if __name__ == "__main__":
    sys.exit(main())

"""Entry script of the frozen app: the same `main` as the `mammolens` console command."""

import sys

from viewer.cli import main

if __name__ == "__main__":
    sys.exit(main())

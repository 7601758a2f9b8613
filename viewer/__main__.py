"""`python -m viewer` is the same as the `mammolens` command."""

import sys

from viewer.cli import main

sys.exit(main())

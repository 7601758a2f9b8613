"""`python -m training {train,evaluate}`: see training.cli."""

from training.cli import main

raise SystemExit(main())

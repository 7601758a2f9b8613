"""`python -m training {train,evaluate}`: see training.cli."""

from training.cli import main

if __name__ == "__main__":  # spawned mining workers re-import this module as __mp_main__
    raise SystemExit(main())

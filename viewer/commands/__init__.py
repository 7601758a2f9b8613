"""Headless subcommands of the `mammolens` console entry point (one module each)."""

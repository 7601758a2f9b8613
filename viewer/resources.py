"""Where the app's data lives: `resources/` beside the code, or inside a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path

MODEL_NAME = "mammolens-gmic-synthetic"


def resources_dir() -> Path:
    """The `resources/` folder: beside the code in a checkout, under sys._MEIPASS when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def default_model_dir() -> Path:
    """The bundled model folder."""
    return resources_dir() / "models" / MODEL_NAME


def icon_path() -> Path:
    """The application icon (PNG)."""
    return resources_dir() / "icons" / "mammolens.png"

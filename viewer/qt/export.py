"""Export: the current view with its visible layers as PNG; an analysis as JSON.

The JSON is `Result.to_dict()` plus `source_path`, exactly what `mammolens analyze` writes per
image (the same serializer; no second one here).
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtWidgets

from inference import Result


class ExportError(OSError):
    """An export could not be written; the message names the file."""


def export_view_png(view: QtWidgets.QWidget, path: Path) -> Path:
    """Grab `view` as shown (image, visible AI layers, overlays) and save it as PNG."""
    path = Path(path)
    if not view.grab().save(str(path), "PNG"):
        raise ExportError(f"{path}: could not write the PNG (expected a writable .png path)")
    return path


def analysis_document(result: Result, source_path: Path | str) -> dict[str, object]:
    """The JSON document of `mammolens analyze` for one image."""
    data = result.to_dict()
    data["source_path"] = str(source_path)
    return data


def export_analysis_json(result: Result, source_path: Path | str, path: Path) -> Path:
    """Write the analysis of one image as `mammolens analyze` JSON."""
    path = Path(path)
    try:
        path.write_text(json.dumps(analysis_document(result, source_path)))
    except OSError as error:
        raise ExportError(f"{path}: {error.strerror or error}") from error
    return path

"""Typed errors of the AI engine: each names the file, field, bad value and what was expected."""

from __future__ import annotations

from pathlib import Path


class InferenceError(Exception):
    """Base of every error raised by `inference`."""


class ModelError(InferenceError):
    """A model folder, manifest or ONNX file was refused; `.field` and `.value` say why."""

    def __init__(self, path: Path | str, field: str, value: object, expected: str) -> None:
        self.path = Path(path)
        self.field = field
        self.value = value
        self.expected = expected
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        super().__init__(f"{self.path}: model field {field} = {shown}: expected {expected}")


class DeviceError(InferenceError):
    """The requested execution device cannot run the model (no silent fallback in `cuda` mode)."""


class AnalysisCancelledError(InferenceError):
    """`cancelled()` returned True between two stages of `Analyzer.analyze`."""


class InputImageError(InferenceError):
    """The pixel array or its geometry handed to `Analyzer.analyze` cannot be analysed."""

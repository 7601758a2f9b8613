"""MammoLens viewer: DICOM reading (dicomio), display state (model) and the Qt GUI (qt)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mammolens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

"""Typed errors for untrusted DICOM input: each names the file, tag or reason, value, expectation.

Every failure of reading, validating or decoding a file becomes one of these; callers catch
`DicomInputError` and show `str(error)` (always a single line) to the user.
"""

from __future__ import annotations

from pathlib import Path


def tag_label(keyword: str, tag: int) -> str:
    """'Rows (0028,0010)': a tag named by keyword and number, as every message writes it."""
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _one_line(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= 300 else flat[:297] + "..."


class DicomInputError(Exception):
    """Base of all input errors; `.path .reason .tag .value .expected`, `str()` is one line."""

    def __init__(
        self,
        path: str | Path,
        reason: str,
        *,
        tag: str = "",
        value: object = None,
        expected: str = "",
    ) -> None:
        self.path = Path(path)
        self.reason = _one_line(reason)
        self.tag = tag
        self.value = value
        self.expected = _one_line(expected)
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.path}: {self.reason}"]
        if self.tag:
            parts.append(f"tag {self.tag}")
        if self.value is not None:
            parts.append(f"value {_one_line(repr(self.value))}")
        if self.expected:
            parts.append(f"expected {self.expected}")
        return "; ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild,
            (type(self), str(self.path), self.reason, self.tag, self.value, self.expected),
        )

    def __str__(self) -> str:
        return self._message()


def _rebuild(
    cls: type[DicomInputError], path: str, reason: str, tag: str, value: object, expected: str
) -> DicomInputError:
    return cls(path, reason, tag=tag, value=value, expected=expected)


class NotDicomError(DicomInputError):
    """The file is not a DICOM Part 10 file (nor a readable raw dataset)."""


class MissingAttributeError(DicomInputError):
    """A required attribute (named by keyword and tag) is absent or empty."""


class InvalidAttributeError(DicomInputError):
    """An attribute's value is out of range or inconsistent with another attribute."""


class NoPixelDataError(DicomInputError):
    """The object has no pixel data (an SR, an RT Plan, a presentation state...)."""


class PixelDataSizeError(DicomInputError):
    """Declared pixel size exceeds the budget, or the bytes present do not match it."""


class DecodeError(DicomInputError):
    """The pixel data could not be decoded (no codec, corrupt stream, out of memory)."""


class DecoderCrashedError(DecodeError):
    """The isolated decoder process died (signal or abnormal exit) on this file."""


class DecoderTimeoutError(DecodeError):
    """The isolated decoder took longer than its time limit and was killed."""

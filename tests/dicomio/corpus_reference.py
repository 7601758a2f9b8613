"""Per-file expectations for the corpus (pydicom's test files + pydicom-data), like pydicom's
tests/pixels/pixels_reference.py. A file not listed here must load as an image.

Decisions pinned here:
- no_meta.dcm: its first byte is a stray 0x20 before (0008,0005), so even force=True parses it
  as one garbage UN element: NotDicomError (not "readable without meta").
- emri_small_jpeg_2k_lossless_too_short.dcm: only the 8-byte Sequence Delimitation Item is
  missing; every fragment is complete, so it decodes to exactly the intact file's pixels.
- meta_missing_tsyntax.dcm: the transfer syntax is inferred from the encoding, but the dataset
  has Pixel Data without Rows: MissingAttributeError naming Rows.
- rtplan_truncated.dcm: an RT Plan (no pixel data) cut short: NoPixelDataError.
- badVR.dcm: pydicom reads it (with a warning) and the 10 x 10 image is valid: an image.
- JPEG2000-embedded-sequence-delimiter.dcm: no plugin (nor GDCM) decodes its codestream.
"""

from __future__ import annotations

from fnmatch import fnmatch

from viewer.dicomio import (
    DecodeError,
    DicomInputError,
    MissingAttributeError,
    NoPixelDataError,
    NotDicomError,
    PixelDataSizeError,
)

EXPECTED_ERRORS: dict[str, type[DicomInputError]] = {
    # the bad files the issue names
    "pydicom/MR_truncated.dcm": PixelDataSizeError,
    "pydicom/rtplan_truncated.dcm": NoPixelDataError,
    "pydicom/no_meta.dcm": NotDicomError,
    "pydicom/meta_missing_tsyntax.dcm": MissingAttributeError,
    "pydicom/JPEG2000-embedded-sequence-delimiter.dcm": DecodeError,
    "pydicom/nested_priv_SQ.dcm": MissingAttributeError,  # Pixel Data without Rows
    # objects without pixel data
    "pydicom/ExplVR_BigEndNoMeta.dcm": NoPixelDataError,
    "pydicom/ExplVR_LitEndNoMeta.dcm": NoPixelDataError,
    "pydicom/UN_sequence.dcm": NoPixelDataError,
    "pydicom/empty_charset_LEI.dcm": NoPixelDataError,
    "pydicom/no_meta_group_length.dcm": NoPixelDataError,
    "pydicom/priv_SQ.dcm": NoPixelDataError,
    "pydicom/reportsi.dcm": NoPixelDataError,
    "pydicom/reportsi_with_empty_number_tags.dcm": NoPixelDataError,
    "pydicom/rtplan.dcm": NoPixelDataError,
    "pydicom/rtstruct.dcm": NoPixelDataError,
    "pydicom/test-SR.dcm": NoPixelDataError,
    "pydicom/waveform_ecg.dcm": NoPixelDataError,
    "pydicom/dicomdirtests/DICOMDIR*": NoPixelDataError,
    "pydicom/dicomdirtests/TINY_ALPHA/DICOMDIR": NoPixelDataError,
    "pydicom/dicomdirtests/TINY_ALPHA/PT*": NoPixelDataError,  # directory-test stubs
    # not DICOM at all
    "*README*": NotDicomError,
    "pydicom/crayons.icc": NotDicomError,
    "pydicom/*.dump": NotDicomError,
    "pydicom/*.json": NotDicomError,
    "pydicom/zipMR.gz": NotDicomError,
}

# Files whose pixels must equal another file's (same image, different encoding or damage).
SAME_PIXELS = {
    "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": "pydicom-data/emri_small.dcm",
    "pydicom-data/emri_small_jpeg_2k_lossless.dcm": "pydicom-data/emri_small.dcm",
    "pydicom-data/RG1_J2KR.dcm": "pydicom-data/RG1_UNCR.dcm",
    "pydicom-data/MR2_J2KR.dcm": "pydicom-data/MR2_UNCR.dcm",
    "pydicom/MR_small_bigendian.dcm": "pydicom/MR_small.dcm",
    "pydicom/MR_small_RLE.dcm": "pydicom/MR_small.dcm",
    "pydicom/MR_small_jp2klossless.dcm": "pydicom/MR_small.dcm",
}


def expected_error(file_id: str) -> type[DicomInputError] | None:
    """The error class a corpus file must raise, or None if it must load as an image."""
    for pattern, error in EXPECTED_ERRORS.items():
        if fnmatch(file_id, pattern):
            return error
    return None

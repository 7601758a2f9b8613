"""The one source of pixels: DICOM reading, validation, isolated decoding, the pixel pipeline.

See the "viewer.dicomio" section of CONTRACTS.md for the public API.
"""

from viewer.dicomio.attributes import VoiFunction, VoiWindow
from viewer.dicomio.errors import (
    DecodeError,
    DecoderCrashedError,
    DecoderTimeoutError,
    DicomInputError,
    InvalidAttributeError,
    MissingAttributeError,
    NoPixelDataError,
    NotDicomError,
    PixelDataSizeError,
)
from viewer.dicomio.header import ImageHeader, read_dataset, read_header
from viewer.dicomio.index import ImageNode, PatientNode, SeriesNode, StudyNode, scan_paths
from viewer.dicomio.index_cache import HeaderCache
from viewer.dicomio.luts import ModalityLut, VoiLut
from viewer.dicomio.pixels import ModalityImage, load_image
from viewer.dicomio.pool import DecoderPool
from viewer.dicomio.voi import (
    VoiSetting,
    ai_input,
    auto_window,
    default_voi,
    display_lut,
    render_display,
)

__all__ = [
    "DecodeError",
    "DecoderCrashedError",
    "DecoderPool",
    "DecoderTimeoutError",
    "DicomInputError",
    "HeaderCache",
    "ImageHeader",
    "ImageNode",
    "InvalidAttributeError",
    "MissingAttributeError",
    "ModalityImage",
    "ModalityLut",
    "NoPixelDataError",
    "NotDicomError",
    "PatientNode",
    "PixelDataSizeError",
    "SeriesNode",
    "StudyNode",
    "VoiFunction",
    "VoiLut",
    "VoiSetting",
    "VoiWindow",
    "ai_input",
    "auto_window",
    "default_voi",
    "display_lut",
    "load_image",
    "read_dataset",
    "read_header",
    "render_display",
    "scan_paths",
]

"""Display state of one open image: VOI (window or VOI LUT), invert and frame, evented and Qt-free.

Each property setter validates, stores, then emits one named signal (napari style); widgets listen
and never hold display state of their own. The 8-bit table that maps stored values to screen gray
levels comes from `viewer.dicomio.display_lut` (the one implementation of PS3.3 C.11) and is cached
here until the VOI or the invert flag changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from viewer import dicomio
from viewer.dicomio import ModalityImage, VoiFunction, VoiSetting, VoiWindow

USER_WINDOW_EXPLANATION = "User"


class DisplayStateError(ValueError):
    """A display property was given a value it cannot take; the message names field and value."""


@dataclass(frozen=True)
class WindowPreset:
    """One VOI choice from the file (a Window Center/Width pair or a VOI LUT), for F1..F9."""

    name: str
    voi: VoiSetting


def file_presets(image: ModalityImage) -> tuple[WindowPreset, ...]:
    """The file's windows, then its VOI LUTs, each named by its explanation (or its number)."""
    presets: list[WindowPreset] = []
    for window in image.header.windows:
        name = window.explanation or f"C {window.center:g} W {window.width:g}"
        presets.append(WindowPreset(name, VoiSetting(window=window, lut_index=None)))
    for index, voi_lut in enumerate(image.header.voi_luts):
        name = voi_lut.explanation or f"VOI LUT {index + 1}"
        presets.append(WindowPreset(name, VoiSetting(window=None, lut_index=index)))
    return tuple(presets)


def window_of(image: ModalityImage, voi: VoiSetting) -> VoiWindow:
    """The VOI as a center/width window; a VOI LUT is described by the range it maps."""
    if voi.window is not None:
        return voi.window
    assert voi.lut_index is not None
    voi_lut = image.header.voi_luts[voi.lut_index]
    width = float(max(len(voi_lut.lut), 1))
    center = float(voi_lut.first_mapped) + width / 2.0
    return VoiWindow(center, width, voi_lut.explanation, VoiFunction.LINEAR)


class ImageDisplay:
    """How one image is shown: VOI, invert, frame; plus its layers (heatmaps, boxes, outlines).

    `default_voi` is computed off the GUI thread by the loader (the automatic window needs a
    histogram) and is what `reset()` returns to.
    """

    voi_changed = Signal(object)
    invert_changed = Signal(bool)
    frame_changed = Signal(int)

    def __init__(self, image: ModalityImage, default_voi: VoiSetting) -> None:
        from viewer.model.layers import LayerList

        self._image = image
        self._default_voi = default_voi
        self._voi = default_voi
        self._invert = False
        self._frame = 0
        self._lut_cache: tuple[VoiSetting, bool, tuple[int, np.ndarray]] | None = None
        self.presets = file_presets(image)
        self.layers = LayerList()

    @property
    def image(self) -> ModalityImage:
        """The image shown (read-only: a new image gets a new ImageDisplay)."""
        return self._image

    @property
    def default_voi(self) -> VoiSetting:
        """The VOI the image opened with and `reset()` returns to."""
        return self._default_voi

    @property
    def voi(self) -> VoiSetting:
        """The current VOI: a window or the index of one of the file's VOI LUTs."""
        return self._voi

    @voi.setter
    def voi(self, value: VoiSetting) -> None:
        if (value.window is None) == (value.lut_index is None):
            raise DisplayStateError(
                f"{self._image.header.path}: voi {value!r}: expected exactly one of window "
                "or lut_index"
            )
        if value.window is not None and not value.window.width > 0:
            raise DisplayStateError(
                f"{self._image.header.path}: window width {value.window.width!r}: expected > 0"
            )
        if value.lut_index is not None and not 0 <= value.lut_index < len(
            self._image.header.voi_luts
        ):
            raise DisplayStateError(
                f"{self._image.header.path}: VOI LUT index {value.lut_index!r}: expected 0.."
                f"{len(self._image.header.voi_luts) - 1}"
            )
        if value == self._voi:
            return
        self._voi = value
        self.voi_changed.emit(value)

    @property
    def invert(self) -> bool:
        """The user's invert toggle, on top of MONOCHROME1 / Presentation LUT Shape."""
        return self._invert

    @invert.setter
    def invert(self, value: bool) -> None:
        value = bool(value)
        if value == self._invert:
            return
        self._invert = value
        self.invert_changed.emit(value)

    @property
    def frame(self) -> int:
        """The frame shown, 0-based."""
        return self._frame

    @frame.setter
    def frame(self, value: int) -> None:
        frames = self.number_of_frames
        if not 0 <= int(value) < frames:
            raise DisplayStateError(
                f"{self._image.header.path}: frame {value!r}: expected 0..{frames - 1}"
            )
        if int(value) == self._frame:
            return
        self._frame = int(value)
        self.frame_changed.emit(self._frame)

    @property
    def number_of_frames(self) -> int:
        """Frames in the decoded pixel array."""
        return int(self._image.stored.shape[0])

    @property
    def is_color(self) -> bool:
        """True for RGB / YBR / PALETTE COLOR images, shown in color without a VOI."""
        return not self._image.header.is_grayscale

    @property
    def window(self) -> VoiWindow:
        """The current VOI as center/width (for the overlay and for dragging from a VOI LUT)."""
        return window_of(self._image, self._voi)

    @property
    def window_step(self) -> float:
        """Modality units per screen pixel of a W/L drag: 1/1024 of the stored value range."""
        header = self._image.header
        return max(2.0**header.bits_stored * abs(header.rescale_slope) / 1024.0, 1e-6)

    def lut(self) -> tuple[int, np.ndarray]:
        """`(offset, table)`: uint8 gray level of stored value v is `table[v - offset]`."""
        cached = self._lut_cache
        if cached is not None and cached[0] == self._voi and cached[1] == self._invert:
            return cached[2]
        offset, table = dicomio.display_lut(self._image, self._voi, self._invert)
        self._lut_cache = (self._voi, self._invert, (int(offset), table))
        return int(offset), table

    def set_window(self, center: float, width: float) -> None:
        """Show a user window (keeps the current VOI function, e.g. SIGMOID)."""
        function = self.window.function if self._voi.window is not None else VoiFunction.LINEAR
        window = VoiWindow(float(center), float(width), USER_WINDOW_EXPLANATION, function)
        self.voi = VoiSetting(window=window, lut_index=None)

    def drag_window(self, dx_pixels: float, dy_pixels: float) -> None:
        """W/L drag: right widens the window, down raises the center (darker), by `window_step`."""
        current = self.window
        step = self.window_step
        width = max(current.width + dx_pixels * step, 1.0)
        self.set_window(current.center + dy_pixels * step, width)

    def select_preset(self, index: int) -> bool:
        """Show the file's preset `index` (0-based); False when the file has no such preset."""
        if not 0 <= index < len(self.presets):
            return False
        self.voi = self.presets[index].voi
        return True

    def reset(self) -> None:
        """Back to the VOI the image opened with, not inverted, first frame kept."""
        self.voi = self._default_voi
        self.invert = False

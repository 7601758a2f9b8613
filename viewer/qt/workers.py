"""Everything slow runs here, off the GUI thread, in superqt workers (QThreadPool).

Jobs are plain functions (testable without Qt); `Jobs` starts them, keeps the workers alive
until they finish, and sends every error to the one `Notifier`. Results carry the request they
answer, so a result that arrives after the user moved on is recognised and dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shiboken6
from PySide6 import QtCore
from superqt.utils import create_worker

from viewer import dicomio
from viewer.model import Cell

THUMBNAIL_SIZE = 160
_BRIGHTNESS_STEP = 16


@dataclass(frozen=True)
class LoadRequest:
    """Load `path` into canvas `slot`; `generation` tells stale answers from current ones."""

    path: Path
    slot: int
    generation: int
    cell: Cell | None = None


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image with what the GUI needs to show it at once."""

    request: LoadRequest
    image: dicomio.ModalityImage
    default_voi: dicomio.VoiSetting
    brightness: np.ndarray  # small gray image, tissue bright: for the hanging's mirroring


@dataclass(frozen=True, eq=False)
class ScanResult:
    """What a scan found: the patient tree, the image headers in it, and the files that failed."""

    patients: list[Any]
    headers: list[dicomio.ImageHeader]
    errors: list[dicomio.DicomInputError] = field(default_factory=list)


def load_for_display(request: LoadRequest, pool: dicomio.DecoderPool | None) -> LoadedImage:
    """Decode, pick the default VOI, and a strided gray preview (through the display LUT)."""
    image = dicomio.load_image(request.path, pool)
    voi = dicomio.default_voi(image)
    return LoadedImage(request, image, voi, brightness_preview(image, voi))


def brightness_preview(image: dicomio.ModalityImage, voi: dicomio.VoiSetting) -> np.ndarray:
    """Every 16th pixel of frame 0 as displayed (MONOCHROME1 inverted), tissue bright."""
    sample = image.stored[0, ::_BRIGHTNESS_STEP, ::_BRIGHTNESS_STEP]
    if not image.header.is_grayscale or sample.dtype.kind not in "iu":
        return np.asarray(sample, dtype=np.float32).reshape((*sample.shape[:2], -1)).mean(-1)
    offset, table = dicomio.display_lut(image, voi, False)
    index = np.clip(sample.astype(np.int64) - offset, 0, len(table) - 1)
    return table[index]


def make_thumbnail(image: dicomio.ModalityImage, voi: dicomio.VoiSetting) -> np.ndarray:
    """Frame 0 shrunk to at most THUMBNAIL_SIZE px by SimpleITK (block average), as displayed.

    Grayscale integer images are shrunk on their stored values, then mapped through dicomio's
    display LUT, so no full-size display rendering is made.
    """
    import SimpleITK as sitk  # noqa: N813 (the name its docs use)

    stored = np.ascontiguousarray(image.stored[0])
    factor = max(1, int(np.ceil(max(stored.shape[:2]) / THUMBNAIL_SIZE)))
    integer = stored.dtype.kind in "iu" and stored.dtype.itemsize <= 2
    if image.header.is_grayscale and integer:
        shrunk = sitk.BinShrink(sitk.GetImageFromArray(stored), [factor, factor])
        small = sitk.GetArrayFromImage(shrunk)
        offset, table = dicomio.display_lut(image, voi, False)
        return table[np.clip(small.astype(np.int64) - offset, 0, len(table) - 1)]
    pixels = dicomio.render_display(image, voi, False, 0)
    sitk_image = sitk.GetImageFromArray(pixels, isVector=pixels.ndim == 3)
    shrunk = sitk.BinShrink(sitk_image, [factor, factor])
    return np.ascontiguousarray(sitk.GetArrayFromImage(shrunk).astype(np.uint8))


def scan(paths: Sequence[Path], cache: dicomio.HeaderCache | None = None) -> ScanResult:
    """Group files / folders / DICOMDIRs into patients; the files that failed come with it."""
    errors: list[dicomio.DicomInputError] = []
    patients = list(dicomio.scan_paths([Path(p) for p in paths], errors, cache))
    return ScanResult(patients, headers_of(patients), errors)


def headers_of(patients: Sequence[Any]) -> list[dicomio.ImageHeader]:
    """Every image header in a patient / study / series / image tree, in tree order."""
    headers: list[dicomio.ImageHeader] = []
    for patient in patients:
        for study in patient.studies:
            for series in study.series:
                headers.extend(image.header for image in series.images)
    return headers


class Jobs(QtCore.QObject):
    """Starts functions in worker threads; errors go to `on_error`; keeps workers referenced.

    The threads are Qt's global pool's unless `pool` is given (the AI has a one-thread pool).
    """

    def __init__(
        self,
        on_error: Callable[[BaseException], None],
        parent: QtCore.QObject,
        pool: QtCore.QThreadPool | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_error = on_error
        self._pool = pool if pool is not None else QtCore.QThreadPool.globalInstance()
        self._running: set[Any] = set()
        self._closed = False

    def start(self, function: Callable[..., Any], *args: Any, returned: Callable[[Any], None],
              errored: Callable[[BaseException], None] | None = None) -> bool:  # fmt: skip
        """Run `function(*args)` in the pool; `returned` / `errored` run on the GUI thread.

        Between `close()` and `reopen()` nothing starts (False is returned), and results that
        arrive once this object (and so the window owning it) is gone are dropped: a late timer
        or a slow job cannot reach widgets Qt has already deleted.
        """
        if self._closed:
            return False
        # Errors go to our handler only (superqt would otherwise re-raise them in the GUI thread).
        worker = create_worker(function, *args, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._guarded(returned))
        worker.errored.connect(self._guarded(errored or self._on_error))
        worker.finished.connect(lambda: self._running.discard(worker))
        self._running.add(worker)
        self._pool.start(worker)
        return True

    def close(self) -> None:
        """Start no more jobs (the owning window is closing); running ones still deliver."""
        self._closed = True

    def reopen(self) -> None:
        """Start jobs again (the window was shown again after a close)."""
        self._closed = False

    def _guarded(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        def deliver(value: Any) -> None:
            if shiboken6.isValid(self):
                callback(value)

        return deliver

    @property
    def busy(self) -> bool:
        """True while a job has not finished."""
        return bool(self._running)

    def wait(self, timeout_ms: int = 30000) -> None:
        """Block until every job finished and its signals were delivered (tests, shutdown)."""
        deadline = QtCore.QDeadlineTimer(timeout_ms)
        while self._running and not deadline.hasExpired():
            self._pool.waitForDone(20)
            QtCore.QCoreApplication.processEvents()

"""AI work off the GUI thread: loading and warming up a model, analysing one image.

Plain functions (run by superqt workers from `AiController`) plus the data they pass. A request
carries the identity of its image and a cancel flag; the outcome carries the identity with the
hash of the pixels that were analysed, so the GUI can only ever show it on that image.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6 import QtCore

from inference import AnalysisCancelledError, Analyzer, Device, InferenceError, Result, Stage
from viewer import dicomio
from viewer.model.evidence import BreastMask, display_map
from viewer.model.findings import ImageIdentity

WARM_UP_SHAPE = (1024, 832)
BACKGROUND_NICE = 10  # added to the process' nice value for the AI thread (Linux)


@dataclass(frozen=True)
class AnalyzerKey:
    """What makes an Analyzer: model folder, device, top-K (one Analyzer per key, reused)."""

    model_dir: Path
    device: Device
    top_k: int


@dataclass(frozen=True, eq=False)
class AnalysisRequest:
    """Analyse frame `frame` of `image`; `cancel` is set when the reader moved on."""

    serial: int
    identity: ImageIdentity
    image: dicomio.ModalityImage
    frame: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, eq=False)
class AnalysisOutcome:
    """A finished analysis: the identity (with the analysed pixels' sha256), result, outline.

    `global_values`: the global heatmap as displayed, zero outside the breast (the Result keeps
    the model's map unchanged for export).
    """

    request: AnalysisRequest
    identity: ImageIdentity
    result: Result
    outline: np.ndarray | None
    global_values: np.ndarray | None = None


class ProgressRelay(QtCore.QObject):
    """Carries stage reports from a worker thread to the GUI thread (queued signal)."""

    stage = QtCore.Signal(int, str)  # request serial, Stage value

    def reporter(self, serial: int) -> Callable[[Stage], None]:
        """A progress callback for `Analyzer.analyze` that emits `stage(serial, value)`."""
        return lambda stage: self.stage.emit(serial, str(stage.value))


def background_priority() -> None:
    """Run the calling (AI) thread below the GUI: Qt thread priority, and on Linux a higher nice.

    The nice value is per thread on Linux and cannot be lowered again without privileges, which
    is why the AI has a thread pool of its own. ONNX Runtime with one intra-op thread computes in
    this thread, so the model runs at this priority too.
    """
    QtCore.QThread.currentThread().setPriority(QtCore.QThread.Priority.LowPriority)
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        thread = threading.get_native_id()
        target = min(os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE, 19)
        if os.getpriority(os.PRIO_PROCESS, thread) < target:
            os.setpriority(os.PRIO_PROCESS, thread, target)


def analysis_threads() -> int:
    """ONNX Runtime threads in the viewer: one core is left to the GUI thread (at most 4)."""
    return max(1, min((os.cpu_count() or 2) - 1, 4))


def warm_up_image() -> np.ndarray:
    """A small synthetic breast (half ellipse on the chest wall, one bright blob)."""
    rows, cols = WARM_UP_SHAPE
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    inside = ((r - rows / 2) / (rows * 0.45)) ** 2 + (c / (cols * 0.7)) ** 2 < 1
    image = np.where(inside, 1200.0, 60.0).astype(np.float32)
    image[(r - rows / 2) ** 2 + (c - cols / 4) ** 2 < 15**2] += 600
    return image


def load_analyzer(key: AnalyzerKey) -> Analyzer:
    """Load the model folder and run it once on a synthetic image (first-run costs paid here)."""
    background_priority()
    analyzer = Analyzer(key.model_dir, key.device, top_k=key.top_k, threads=analysis_threads())
    # A model that cannot read the warm-up image may still read mammograms.
    with contextlib.suppress(InferenceError):
        spacing = analyzer.manifest.pixel_spacing_mm
        analyzer.analyze(warm_up_image(), pixel_spacing_mm=spacing, laterality="L", view="CC")
    return analyzer


def run_analysis(
    request: AnalysisRequest, analyzer: Analyzer, progress: Callable[[Stage], None] | None = None
) -> AnalysisOutcome:
    """Analyse the request's image; raises AnalysisCancelledError once `cancel` is set."""
    background_priority()
    cancelled = request.cancel.is_set
    if cancelled():
        raise AnalysisCancelledError("analysis cancelled before it started")
    header = request.image.header
    values = np.ascontiguousarray(dicomio.ai_input(request.image, request.frame), np.float32)
    spacing = header.pixel_spacing[0] if header.pixel_spacing else None
    result = analyzer.analyze(
        values,
        pixel_spacing_mm=spacing or analyzer.manifest.pixel_spacing_mm,
        laterality=header.laterality,
        view=header.view_position,
        sop_instance_uid=header.sop_instance_uid,
        progress=progress,
        cancelled=cancelled,
    )
    if spacing is None:  # same words as `mammolens analyze`
        assumed = analyzer.manifest.pixel_spacing_mm
        note = f"no pixel spacing in the file: assumed the model's {assumed} mm"
        result = dataclasses.replace(result, warnings=(*result.warnings, note))
    breast = BreastMask.of(values, result)
    heat = result.global_heatmap
    global_values = None if heat.all_zero else display_map(breast.inside(heat))
    if cancelled():
        raise AnalysisCancelledError("analysis cancelled after it finished")
    identity = dataclasses.replace(request.identity, pixel_sha256=result.provenance.input_sha256)
    return AnalysisOutcome(request, identity, result, breast.outline(), global_values)


def describe_error(error: BaseException) -> str:
    """One line for the reader: what failed, in words (typed errors already name field/value)."""
    if isinstance(error, MemoryError):
        return "out of memory while analysing (close other images or lower top-K)"
    if isinstance(error, InferenceError | dicomio.DicomInputError):
        return str(error)
    return f"{type(error).__name__}: {error}"

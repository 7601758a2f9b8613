"""Wires the AI into a MainWindow: `install_ai(window) -> AiController`.

The controller loads the model once in the background, analyses images as they are shown (one
analysis at a time, in a worker; newer images wait), cancels the analysis of an image that is no
longer shown, and routes every error to the window's one `Notifier`. Results go into the Qt-free
`ImageFindings` of the image they belong to; its layers live in that image's own `LayerList`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from inference import AnalysisCancelledError, Analyzer, Result, Stage
from viewer.model.display import ImageDisplay
from viewer.model.evidence import zoom_to_box
from viewer.model.findings import (
    NO_EVIDENCE_TEXT,
    AiLayerStyle,
    AnalysisStatus,
    FindingsRegistry,
    ImageFindings,
    ImageIdentity,
)
from viewer.qt.ai_settings import AiOptions, AiSettings
from viewer.qt.ai_ui import AiBadge, AiUi
from viewer.qt.ai_worker import (
    AnalysisOutcome,
    AnalysisRequest,
    AnalyzerKey,
    ProgressRelay,
    describe_error,
    load_analyzer,
    run_analysis,
)
from viewer.qt.canvas import ImageCanvas
from viewer.qt.main_window import MainWindow
from viewer.qt.notify import Level
from viewer.qt.workers import Jobs

_STAGES = [Stage.SEGMENTING, Stage.GLOBAL_MODEL, Stage.CROPS, Stage.HEATMAPS, Stage.DONE]
_PROVIDER = {"CUDAExecutionProvider": "CUDA", "CPUExecutionProvider": "CPU"}


class AiUnavailableError(RuntimeError):
    """No result can come for an image: the model is off or the analysis failed (says why)."""


@dataclass(eq=False)
class _Entry:
    """One shown image: its display, findings and the request in flight (if any)."""

    display: ImageDisplay
    findings: ImageFindings
    request: AnalysisRequest | None = None

    def cancel(self) -> None:
        if self.request is not None:
            self.request.cancel.set()


def identity_of(display: ImageDisplay) -> ImageIdentity:
    """The identity of the image `display` shows (pixel hash filled in by its analysis)."""
    header = display.image.header
    return ImageIdentity(header.sop_instance_uid, str(header.path))


class AiController(QtCore.QObject):
    """The AI of one window. `analysis_done(identity, result)` after each finished analysis."""

    analysis_done = QtCore.Signal(object, object)  # ImageIdentity, Result
    analysis_failed = QtCore.Signal(object, str)  # ImageIdentity, message
    model_changed = QtCore.Signal(str)  # "" when a model is ready, else why AI is off

    def __init__(self, window: MainWindow, options: AiOptions | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = AiSettings(window.settings.store)
        self.options = options or self.settings.load()
        self.style = AiLayerStyle()
        self.registry = FindingsRegistry()
        self.analyzer: Analyzer | None = None
        self.model_error = ""
        self._analyzers: dict[AnalyzerKey, Analyzer] = {}
        self._wanted: AnalyzerKey | None = None
        self._entries: dict[int, _Entry] = {}
        self._queue: list[_Entry] = []
        self._running: _Entry | None = None
        self._serial = 0
        self._last_text = ""
        # One background thread of its own: analyses run one at a time, at low OS priority,
        # and never hold up image loading in the window's pool.
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        # Never closed (an analysis asked for while the window closes still runs, as before);
        # its results are dropped once the controller is deleted.
        self._jobs = Jobs(window.notifier.error, self, self.pool)  # every start names its errored
        self._relay = ProgressRelay(self)
        self._relay.stage.connect(self._on_stage)
        self.ui = AiUi(self)
        window.image_shown.connect(self._on_image_shown)
        window.grid.active_changed.connect(self._on_active_changed)
        window.installEventFilter(self)
        self.load_model()

    def wait(self, timeout_ms: int = 30000) -> None:
        """Block until the AI thread is idle and its signals were delivered (tests, shutdown)."""
        self._jobs.wait(timeout_ms)

    # --- model ---------------------------------------------------------------------------

    @property
    def key(self) -> AnalyzerKey:
        """The Analyzer the current options ask for."""
        o = self.options
        return AnalyzerKey(Path(o.effective_model_dir), o.device, o.top_k)

    @property
    def loading(self) -> bool:
        """True while the wanted model is being loaded."""
        return self._wanted is not None and self.analyzer is None and not self.model_error

    def load_model(self) -> None:
        """Load (and warm up) the model the options name, in a worker; reuse a loaded one."""
        key = self.key
        self._wanted, self.model_error = key, ""
        self.analyzer = self._analyzers.get(key)
        if self.analyzer is not None:
            self._model_ready()
            return
        self.ui.show_progress(f"AI: loading model {key.model_dir.name}…")
        self._jobs.start(
            load_analyzer,
            key,
            returned=lambda a: self._on_loaded(key, a),
            errored=lambda e: self._on_load_failed(key, e),
        )

    def _on_loaded(self, key: AnalyzerKey, analyzer: Analyzer) -> None:
        self._analyzers[key] = analyzer
        if key == self._wanted:
            self.analyzer = analyzer
            self._model_ready()

    def _model_ready(self) -> None:
        assert self.analyzer is not None
        m = self.analyzer.manifest
        text = f"Model: {m.name} {m.version} on {self.provider_name}"
        self.ui.findings.set_model(m, text)
        self.ui.show_progress(f"AI ready ({self.provider_name})")
        self.model_changed.emit("")
        self._pump()

    def _on_load_failed(self, key: AnalyzerKey, error: BaseException) -> None:
        if key != self._wanted:
            return
        self.analyzer = None
        self.model_error = (
            f"AI is off: cannot use the model folder {key.model_dir}: {describe_error(error)}"
        )
        self.window.notifier.notify(
            Level.ERROR,
            f"{self.model_error}. The viewer works on "
            "without AI; choose another folder in AI settings.",
        )
        self.ui.findings.set_model(None, self.model_error)
        self.ui.show_progress("AI off (model folder unusable)")
        for entry in self._queue:
            entry.findings.set_failed(self.model_error)
        self._queue = []
        self.model_changed.emit(self.model_error)

    @property
    def provider_name(self) -> str:
        """ "CUDA" or "CPU" (where the loaded model runs), "" without a model."""
        if self.analyzer is None:
            return ""
        return _PROVIDER.get(self.analyzer.provider, self.analyzer.provider)

    def apply_options(self, options: AiOptions) -> None:
        """Store new options; a new model / device / top-K reloads and re-analyses shown images."""
        old_key = self.key
        self.options = options
        self.settings.save(options)
        if self.key != old_key:
            for entry in self._entries.values():
                entry.cancel()
                entry.findings.clear()
            self._queue = []
            self.load_model()
            if options.auto_run:
                for canvas in self.window.grid.canvases:
                    self.analyze(canvas)

    # --- images --------------------------------------------------------------------------

    def _on_image_shown(self, slot: int) -> None:
        self._forget_hidden()
        canvas = self.window.grid.canvases[slot]
        if canvas.display is None:
            return
        entry = self._entry(canvas.display)
        self.ui.badge(canvas)
        if canvas.camera is not None:  # a new camera comes with each image
            canvas.camera.view_changed.connect(self.ui.update_badges)
        if canvas is self.window.grid.active:
            self._on_active_changed(canvas)
        if self.options.auto_run:
            self.analyze(canvas)
        elif entry.findings.status is AnalysisStatus.NOT_STARTED:
            self.ui.update_badges()

    def _entry(self, display: ImageDisplay) -> _Entry:
        entry = self._entries.get(id(display))
        if entry is None:
            findings = ImageFindings(identity_of(display), display.layers, self.style)
            entry = _Entry(display, findings)
            self._entries[id(display)] = entry
            self.registry.add(findings)
            findings.result_changed.connect(self.ui.update_badges)
        return entry

    def _forget_hidden(self) -> None:
        """Cancel and drop the findings of images no canvas shows any more."""
        shown = {id(c.display) for c in self.window.grid.canvases if c.display is not None}
        for key in [k for k in self._entries if k not in shown]:
            entry = self._entries.pop(key)
            entry.cancel()
            if entry in self._queue:
                self._queue.remove(entry)
            entry.findings.result_changed.disconnect(self.ui.update_badges)
            self.registry.remove(entry.findings)

    def _on_active_changed(self, canvas: ImageCanvas) -> None:
        self._forget_hidden()
        entry = self._entries.get(id(canvas.display)) if canvas.display is not None else None
        self.ui.findings.bind(entry.findings if entry else None, canvas.display)
        self.ui.update_badges()

    def findings_for(self, canvas: ImageCanvas | None = None) -> ImageFindings | None:
        """The findings of the image in `canvas` (default: the active view), or None."""
        canvas = canvas or self.window.grid.active
        if canvas is None or canvas.display is None:
            return None
        entry = self._entries.get(id(canvas.display))
        return entry.findings if entry is not None else None

    # --- analysis ------------------------------------------------------------------------

    def analyze(self, canvas: ImageCanvas | None = None) -> None:
        """Analyse the image in `canvas` (default: the active view) in the background (`A`)."""
        canvas = canvas or self.window.grid.active
        if canvas is None or canvas.display is None:
            return
        entry = self._entry(canvas.display)
        if entry is self._running or entry in self._queue:
            return
        if self.analyzer is None and not self.loading:
            entry.findings.set_failed(self.model_error or "no AI model loaded")
            self.window.notifier.notify(Level.WARNING, entry.findings.error)
            return
        entry.findings.set_waiting()
        self._queue.append(entry)
        self._pump()

    def _pump(self) -> None:
        if self._running is not None or self.analyzer is None or not self._queue:
            return
        entry = self._queue.pop(0)
        self._serial += 1
        display = entry.display
        request = AnalysisRequest(
            self._serial, entry.findings.identity, display.image, display.frame
        )
        entry.request, self._running = request, entry
        entry.findings.set_stage(Stage.SEGMENTING)
        self._show_stage(Stage.SEGMENTING)
        self._jobs.start(
            run_analysis,
            request,
            self.analyzer,
            self._relay.reporter(request.serial),
            returned=self._on_result,
            errored=lambda e: self._on_error(entry, request, e),
        )

    def _on_stage(self, serial: int, stage: str) -> None:
        entry = self._running
        if entry is None or entry.request is None or entry.request.serial != serial:
            return
        if stage != Stage.DONE.value and not entry.request.cancel.is_set():
            entry.findings.set_stage(Stage(stage))
            self._show_stage(Stage(stage))

    def _show_stage(self, stage: Stage) -> None:
        words = {
            Stage.SEGMENTING: "segmenting",
            Stage.GLOBAL_MODEL: "global model",
            Stage.CROPS: "crops",
            Stage.HEATMAPS: "heatmaps",
            Stage.DONE: "done",
        }
        self.ui.show_progress(
            f"AI: {words[stage]} ({self.provider_name})",
            step=_STAGES.index(stage),
            steps=len(_STAGES) - 1,
        )

    def _finish(self, request: AnalysisRequest) -> _Entry | None:
        """The live entry `request` belongs to, or None when its image is gone or was switched."""
        if self._running is not None and self._running.request is request:
            self._running = None
        for entry in self._entries.values():
            if entry.request is request and not request.cancel.is_set():
                entry.request = None
                return entry
        return None

    def _on_result(self, outcome: AnalysisOutcome) -> None:
        entry = self._finish(outcome.request)
        if entry is not None:
            entry.findings.set_result(
                outcome.identity,
                outcome.result,
                outcome.outline,
                staged=True,
                global_values=outcome.global_values,
            )
            self._attach_step(entry, outcome)
        self._after_work()

    def _attach_step(self, entry: _Entry, outcome: AnalysisOutcome) -> None:
        """Add one layer per event-loop turn, so no single turn draws them all (heartbeat)."""
        if self._entries.get(id(entry.display)) is not entry:
            return  # the image was closed meanwhile: detach() dropped the pending layers
        if entry.findings.attach_next():
            QtCore.QTimer.singleShot(0, self, lambda: self._attach_step(entry, outcome))
            return
        if entry.findings.result is outcome.result:
            ms = outcome.result.timings_ms.get("total", 0.0)
            self._last_text = f"last analysis {ms:.0f} ms"
            self._after_work()
            self.analysis_done.emit(outcome.identity, outcome.result)

    def _on_error(self, entry: _Entry, request: AnalysisRequest, error: BaseException) -> None:
        live = self._finish(request)
        if isinstance(error, AnalysisCancelledError) or live is None:
            if entry.request is request:
                entry.request = None
            if entry.findings.status is AnalysisStatus.RUNNING:
                entry.findings.set_cancelled()
        else:
            message = describe_error(error)
            live.findings.set_failed(message)
            name = Path(live.findings.identity.path).name
            self.window.notifier.notify(
                Level.ERROR,
                f"AI analysis of {name} failed: {message}. The image stays open without AI output.",
            )
            self.analysis_failed.emit(live.findings.identity, message)
        self._after_work()

    def _after_work(self) -> None:
        if self._running is None and not self._queue and self.analyzer is not None:
            extra = f" · {self._last_text}" if self._last_text else ""
            self.ui.show_progress(f"AI ready ({self.provider_name}){extra}")
        self._pump()

    # --- reader actions ------------------------------------------------------------------

    def zoom_to_crop(self, index: int, canvas: ImageCanvas | None = None) -> None:
        """Select crop `index` of the active view and zoom the view to its box."""
        canvas = canvas or self.window.grid.active
        findings = self.findings_for(canvas)
        if canvas is None or canvas.camera is None or findings is None or findings.result is None:
            return
        findings.selected_crop = index
        zoom_to_box(canvas.camera, findings.result.crops[index].box)

    def wait_for_result(
        self, timeout_s: float = 120.0, canvas: ImageCanvas | None = None
    ) -> Result:
        """Process events until the image in `canvas` (default: active) has a result; return it.

        Raises AiUnavailableError when the model is off or the analysis failed, TimeoutError.
        """
        deadline = QtCore.QDeadlineTimer(int(timeout_s * 1000))
        waker = QtCore.QTimer(self)  # processEvents below sleeps until an event: wake it up
        waker.start(20)
        try:
            return self._wait(deadline, timeout_s, canvas)
        finally:
            waker.stop()
            waker.deleteLater()

    def _wait(
        self, deadline: QtCore.QDeadlineTimer, timeout_s: float, canvas: ImageCanvas | None
    ) -> Result:
        wait_flag = QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents
        while not deadline.hasExpired():
            findings = self.findings_for(canvas)
            if findings is not None and findings.status is AnalysisStatus.DONE:
                assert findings.result is not None
                return findings.result
            if findings is not None and findings.status is AnalysisStatus.FAILED:
                raise AiUnavailableError(findings.error)
            if self.model_error:
                raise AiUnavailableError(self.model_error)
            QtWidgets.QApplication.processEvents(wait_flag)
        raise TimeoutError(f"no AI result within {timeout_s} s")

    @property
    def busy(self) -> bool:
        """True while an analysis runs or waits, or the model loads."""
        return self._running is not None or bool(self._queue) or self._jobs.busy

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        """On window close, cancel work in flight so the window's wait ends quickly."""
        if watched is self.window and event.type() == QtCore.QEvent.Type.Close:
            self._queue = []
            for entry in self._entries.values():
                entry.cancel()
            self.wait()
        return False


def install_ai(window: MainWindow, options: AiOptions | None = None) -> AiController:
    """Give `window` its AI (toolbar, panels, status, background analysis); the controller."""
    controller = AiController(window, options)
    window.ai = controller  # type: ignore[attr-defined]
    state = window.settings.window_state()[1]
    if state is not None:  # the AI docks and toolbar did not exist when the window restored
        window.restoreState(state)
    return controller


__all__ = ["NO_EVIDENCE_TEXT", "AiBadge", "AiController", "AiUnavailableError", "install_ai"]

"""The main window: canvases in a hanging-protocol grid, browser and tag docks, menus, keys."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

import viewer
from viewer import dicomio
from viewer.model import SINGLE_VIEW, ImageDisplay, ViewerState, choose_hanging, needs_flip
from viewer.model.hanging import Side
from viewer.qt.browser import StudyBrowser
from viewer.qt.canvas import ImageCanvas, Tool
from viewer.qt.notify import Level, Notifier
from viewer.qt.settings import Settings
from viewer.qt.tag_tree import TagTree
from viewer.qt.view_grid import ViewGrid
from viewer.qt.workers import (
    Jobs,
    LoadedImage,
    LoadRequest,
    ScanResult,
    load_for_display,
    make_thumbnail,
    scan,
)

THUMBNAIL_DELAY_MS = 300
_OPPOSITE = {Side.LEFT: Side.RIGHT, Side.RIGHT: Side.LEFT}

PoolFactory = Callable[[], "dicomio.DecoderPool | None"]


class MainWindow(QtWidgets.QMainWindow):
    """MammoLens' window. `open_paths` scans, hangs and loads; all slow work runs in `jobs`."""

    image_shown = QtCore.Signal(int)  # slot index whose canvas just got a new image

    def __init__(
        self,
        settings: Settings | None = None,
        pool_factory: PoolFactory | None = None,
        header_cache: dicomio.HeaderCache | None = None,
    ) -> None:
        """`header_cache`: the SQLite study index that spares re-reading unchanged files."""
        super().__init__()
        self.setWindowTitle(f"MammoLens {viewer.__version__}")
        self.setAcceptDrops(True)
        self.settings = settings or Settings()
        self.state = ViewerState()
        self._pool_factory = pool_factory or dicomio.DecoderPool
        self._pool: dicomio.DecoderPool | None = None
        self.header_cache = header_cache
        self._generations: dict[int, int] = {}
        self.notifier = Notifier(self.statusBar(), self)
        self.jobs = Jobs(self.notifier.error, self)
        self.grid = ViewGrid(self.state, self, self.jobs)
        # The images keep at least this much room: docks shrink or stack before the canvas does.
        self.grid.setMinimumSize(480, 360)
        self.setCentralWidget(self.grid)
        self.notifier.set_host(self.grid)
        self.pixel_label = QtWidgets.QLabel(self)
        self.statusBar().addPermanentWidget(self.pixel_label)
        self.browser = StudyBrowser(self.state, self)
        self.tags = TagTree(self.state, self)
        self.frame_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, self)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self._build_docks()
        self.actions_by_name: dict[str, QtGui.QAction] = {}
        self._build_menus()
        self.grid.hovered.connect(self.pixel_label.setText)
        self.grid.active_changed.connect(self._on_active_changed)
        self.browser.image_activated.connect(self.open_in_active)
        self.frame_slider.valueChanged.connect(self._on_frame_slider)
        self.state.privacy_changed.connect(self._on_privacy)
        self._restore_window_state()

    # --- construction --------------------------------------------------------------------

    def _build_docks(self) -> None:
        for name, title, widget, area in (
            ("browser", "Studies", self.browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea),
            ("tags", "DICOM tags", self.tags, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.docks["tags"].hide()  # the tag tree is opened from the View menu
        frames = QtWidgets.QToolBar("Frames", self)
        frames.setObjectName("toolbar_frames")
        frames.addWidget(QtWidgets.QLabel(" Frame ", self))
        frames.addWidget(self.frame_slider)
        self.frames_toolbar = frames
        self.addToolBar(QtCore.Qt.ToolBarArea.BottomToolBarArea, frames)
        frames.hide()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "open_files", "&Open files…", "Ctrl+O", self._ask_files)
        self._action(file_menu, "open_folder", "Open &folder…", "Ctrl+Shift+O", self._ask_folder)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self._action(file_menu, "quit", "&Quit", "Ctrl+Q", self.close)
        view = self.menuBar().addMenu("&View")
        self._action(view, "fit", "&Fit to window", "F", lambda: self._on_camera("fit"))
        self._action(view, "one_to_one", "&1:1 pixels", "1", lambda: self._on_camera("one"))
        self._action(view, "invert", "&Invert", "I", self._toggle_invert)
        self._action(view, "reset", "&Reset", "R", self._reset)
        privacy = self._action(view, "privacy", "&Privacy (hide patient)", "P", self._privacy)
        privacy.setCheckable(True)
        window_tool = self._action(view, "window_tool", "&Window/level tool", "W", self._tool)
        window_tool.setCheckable(True)
        view.addSeparator()
        view.addAction(self.docks["browser"].toggleViewAction())
        view.addAction(self.docks["tags"].toggleViewAction())
        presets = self.menuBar().addMenu("&Window")
        for index in range(9):
            self._action(presets, f"preset_{index + 1}", f"Preset {index + 1}",
                         f"F{index + 1}", functools.partial(self._preset, index))  # fmt: skip

    def _action(
        self, menu: QtWidgets.QMenu, name: str, text: str, shortcut: str, slot: Callable[[], object]
    ) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        action.setShortcut(QtGui.QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)
        self.actions_by_name[name] = action
        return action

    # --- opening -------------------------------------------------------------------------

    def open_paths(self, paths: Sequence[Path | str]) -> None:
        """Scan files / folders / DICOMDIRs in a worker, then hang and load what was found."""
        paths = [Path(p) for p in paths]
        if paths:
            self.statusBar().showMessage(f"Scanning {len(paths)} path(s)…")
            self.jobs.start(scan, paths, self.header_cache, returned=self._on_scanned)

    def open_in_active(self, path: Path) -> None:
        """Load one image into the active canvas (the browser's double-click)."""
        canvas = self.grid.active or self.grid.canvases[0]
        self._load(Path(path), self.grid.canvases.index(canvas))

    def _on_scanned(self, result: ScanResult) -> None:
        for error in result.errors:
            self.notifier.error(error)
        if not result.headers:
            if not result.errors:
                self.notifier.notify(Level.WARNING, "No DICOM images found")
            return
        self.browser.add_headers(result.headers)
        hanging = choose_hanging(result.headers)
        assert hanging is not None
        if hanging.protocol is not SINGLE_VIEW or len(self.grid.canvases) != 1:
            self.grid.set_protocol(hanging.protocol)
        for slot, header in enumerate(hanging.headers):
            self._load(Path(header.path), slot)
            self.settings.add_recent(Path(header.path))

    def _load(self, path: Path, slot: int) -> None:
        generation = self._generations.get(slot, 0) + 1
        self._generations[slot] = generation
        cell = self.grid.protocol.cells[slot]
        request = LoadRequest(path, slot, generation, cell)
        self.jobs.start(load_for_display, request, self._decoder_pool(), returned=self._on_loaded)

    def _decoder_pool(self) -> dicomio.DecoderPool | None:
        if self._pool is None:
            self._pool = self._pool_factory()
        return self._pool

    def _on_loaded(self, loaded: LoadedImage) -> None:
        request = loaded.request
        if self._generations.get(request.slot) != request.generation:
            return  # the user asked for something else meanwhile
        if request.slot >= len(self.grid.canvases):
            return
        display = ImageDisplay(loaded.image, loaded.default_voi)
        self._apply_remembered_preset(display)
        canvas = self.grid.canvases[request.slot]
        cell = request.cell
        flip = cell is not None and needs_flip(cell, loaded.brightness)
        chest_wall = cell.chest_wall if cell is not None else None
        canvas.overlay.outer_side = None if chest_wall is None else _OPPOSITE[chest_wall]
        canvas.set_display(display, flip, chest_wall)
        self.statusBar().showMessage(f"Opened {request.path.name}", 3000)
        if canvas is self.grid.active:
            self._on_active_changed(canvas)
        # Thumbnails wait until the first pixels are painted: they compete for the same cores.
        path, image, voi = request.path, loaded.image, loaded.default_voi
        # The browser is the timer's context: if it is destroyed first, the call is dropped.
        QtCore.QTimer.singleShot(
            THUMBNAIL_DELAY_MS, self.browser, lambda: self._start_thumbnail(path, image, voi)
        )
        self.image_shown.emit(request.slot)

    def _start_thumbnail(
        self, path: Path, image: dicomio.ModalityImage, voi: dicomio.VoiSetting
    ) -> None:
        def show(pixels: np.ndarray) -> None:
            self.browser.set_thumbnail(path, pixels)

        self.jobs.start(make_thumbnail, image, voi, returned=show)

    def _apply_remembered_preset(self, display: ImageDisplay) -> None:
        name = self.settings.last_preset(display.image.header.modality)
        for index, preset in enumerate(display.presets):
            if preset.name == name:
                display.select_preset(index)
                return

    # --- active canvas -------------------------------------------------------------------

    def _on_active_changed(self, canvas: ImageCanvas) -> None:
        display = canvas.display
        self.frame_slider.blockSignals(True)
        frames = display.number_of_frames if display is not None else 1
        self.frame_slider.setRange(0, frames - 1)
        self.frame_slider.setValue(display.frame if display is not None else 0)
        self.frame_slider.blockSignals(False)
        self.frames_toolbar.setVisible(frames > 1)
        if display is None:
            self.tags.show_dataset(None)
            return
        self.jobs.start(dicomio.read_dataset, display.image.header.path,
                        returned=self.tags.show_dataset)  # fmt: skip

    def _on_frame_slider(self, value: int) -> None:
        display = self._active_display()
        if display is not None:
            display.frame = value

    def _active_display(self) -> ImageDisplay | None:
        canvas = self.grid.active
        return canvas.display if canvas is not None else None

    # --- actions -------------------------------------------------------------------------

    def _on_camera(self, what: str) -> None:
        canvas = self.grid.active
        if canvas is None or canvas.camera is None:
            return
        if what == "fit":
            canvas.camera.fit()
        else:
            canvas.camera.one_to_one()

    def _toggle_invert(self) -> None:
        display = self._active_display()
        if display is not None and not display.is_color:
            display.invert = not display.invert

    def _reset(self) -> None:
        display = self._active_display()
        if display is not None:
            display.reset()
        self._on_camera("fit")

    def _preset(self, index: int) -> None:
        display = self._active_display()
        if display is None or display.is_color:
            return
        if display.select_preset(index):
            self.settings.set_last_preset(
                display.image.header.modality, display.presets[index].name
            )
        else:
            self.notifier.notify(Level.INFO, f"This image has no window preset F{index + 1}")

    def _privacy(self) -> None:
        self.state.privacy = not self.state.privacy

    def _on_privacy(self, privacy: bool) -> None:
        self.actions_by_name["privacy"].setChecked(privacy)

    def _tool(self) -> None:
        tool = Tool.WINDOW if self.actions_by_name["window_tool"].isChecked() else Tool.PAN
        for canvas in self.grid.canvases:
            canvas.tool = tool

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Single-key shortcuts also when the shortcut map did not take the key (no focus)."""
        pressed = QtGui.QKeySequence(event.keyCombination())
        for action in self.actions_by_name.values():
            if action.shortcut() == pressed:
                action.trigger()
                event.accept()
                return
        super().keyPressEvent(event)

    # --- files, recent, drag and drop ----------------------------------------------------

    def _ask_files(self) -> None:
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Open DICOM files")
        self.open_paths(files)

    def _ask_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of DICOM files")
        if folder:
            self.open_paths([folder])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_paths([p]))

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        """Accept files and folders."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802 (Qt override)
        """Open what was dropped."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        self.open_paths(paths)
        event.acceptProposedAction()

    # --- state ---------------------------------------------------------------------------

    def _restore_window_state(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt override)
        """A window shown again after a close loads images again."""
        self.jobs.reopen()
        super().showEvent(event)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Save settings, finish the workers, stop the decoder processes."""
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        # Closed first: neither a pending thumbnail timer nor a load finishing during the wait
        # starts new work on a closing window.
        self.jobs.close()
        self.jobs.wait()
        for canvas in self.grid.canvases:
            canvas.clear()
        if self._pool is not None:
            close = getattr(self._pool, "close", None) or getattr(self._pool, "shutdown", None)
            if close is not None:
                close()
            self._pool = None
        super().closeEvent(event)

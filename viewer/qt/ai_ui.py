"""The AI's widgets in the main window: toolbar and menu, docks, status bar progress, badges.

Built by `AiController`; every action calls the controller or edits the Qt-free style.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from viewer.model.findings import HEATMAP_KINDS, NO_EVIDENCE_TEXT, ImageFindings
from viewer.model.hanging import Side
from viewer.qt.ai_settings import AiSettingsDialog
from viewer.qt.canvas import ImageCanvas
from viewer.qt.export import ExportError, export_analysis_json, export_view_png
from viewer.qt.findings_panel import FindingsPanel
from viewer.qt.layers_panel import LayersPanel
from viewer.qt.model_card import NOT_FOR_CLINICAL_USE, ModelCardDialog
from viewer.qt.notify import Level

if TYPE_CHECKING:
    from viewer.qt.ai_controller import AiController


class AiBadge(QtWidgets.QLabel):
    """'AI · NOT FOR CLINICAL USE' on a canvas while it shows AI output.

    Placed at mid-height on the canvas' outer side (away from the chest wall, where a fitted
    mammogram leaves air), so it covers neither tissue nor the corner texts.
    """

    def __init__(self, canvas: ImageCanvas) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.setObjectName("ai_badge")
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet(
            "QLabel { background: rgba(160, 16, 16, 215); color: white; font-size: 11px; "
            "font-weight: bold; padding: 2px 6px; border-radius: 3px; }"
        )
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        canvas.installEventFilter(self)
        self.hide()

    def show_for(self, findings: ImageFindings | None) -> None:
        """Visible while `findings` has a result on this fitted canvas.

        Zoomed in, the outer side is tissue, so the badge steps aside; the status bar's label
        still says the same.
        """
        camera = self.canvas.camera
        if findings is None or findings.result is None or camera is None or not camera.is_fitted:
            self.hide()
            return
        text = f"AI · research only\n{NOT_FOR_CLINICAL_USE}"
        if findings.no_positive_evidence:
            text += f"\nheatmap: {NO_EVIDENCE_TEXT}"
        if self.isVisible() and text == self.text():
            return  # called on every pan / zoom step: nothing to do
        self.setText(text)
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()

    def _place(self) -> None:
        width, height = self.canvas.width(), self.canvas.height()
        side = getattr(self.canvas.overlay, "outer_side", None)
        y = max((height - self.height()) // 2, 0)
        if side is Side.LEFT:
            self.move(6, y)
        elif side is Side.RIGHT:
            self.move(max(width - self.width() - 6, 0), y)
        else:
            self.move(max((width - self.width()) // 2, 0), max(height - self.height() - 6, 0))

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        """Keep the place when the canvas is resized."""
        if event.type() == QtCore.QEvent.Type.Resize:
            self._place()
        return False


class AiUi(QtCore.QObject):
    """Toolbar, AI menu, findings and layers docks, status bar widgets, dialogs."""

    def __init__(self, controller: AiController) -> None:
        super().__init__(controller)
        self.controller = controller
        window = controller.window
        self.window = window
        self.findings = FindingsPanel(controller.registry, window)
        self.layers = LayersPanel(controller.style, window)
        self.findings.crop_clicked.connect(lambda i: controller.zoom_to_crop(i))
        self.findings.model_card_requested.connect(self.show_model_card)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        area = QtCore.Qt.DockWidgetArea
        # Findings get the right column's full height; the layer controls sit under the browser.
        for name, title, widget, where in (
            ("ai_findings", "AI findings", self.findings, area.RightDockWidgetArea),
            ("ai_layers", "AI layers", self.layers, area.LeftDockWidgetArea),
        ):
            dock = QtWidgets.QDockWidget(title, window)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            window.addDockWidget(where, dock)
            self.docks[name] = dock
        self.progress_label = QtWidgets.QLabel("", window)
        self.clinical_label = QtWidgets.QLabel(f" AI output on screen · {NOT_FOR_CLINICAL_USE} ")
        self.clinical_label.setStyleSheet(
            "QLabel { background: #a01010; color: white; font-weight: bold; }"
        )
        self.clinical_label.hide()
        window.statusBar().addPermanentWidget(self.clinical_label)
        window.statusBar().addPermanentWidget(self.progress_label)
        self._build_actions()
        controller.style.visibility_changed.connect(self._on_visibility)

    @property
    def progress_text(self) -> str:
        """What the status bar's AI label says."""
        return self.progress_label.text()

    def _build_actions(self) -> None:
        window, c = self.window, self.controller
        menu = window.menuBar().addMenu("&AI")
        toolbar = QtWidgets.QToolBar("AI", window)
        toolbar.setObjectName("toolbar_ai")
        window.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar
        for name, text, key, slot in (
            ("ai_analyse", "Analyse", "A", lambda: c.analyze()),
            ("ai_heatmaps", "Heatmaps", "H", c.style.toggle_heatmaps),
            ("ai_model_card", "Model card…", "", self.show_model_card),
            ("ai_settings", "AI settings…", "", self.show_settings),
            ("ai_export_png", "Export view PNG…", "", self.ask_export_png),
            ("ai_export_json", "Export analysis JSON…", "", self.ask_export_json),
        ):
            action = QtGui.QAction(text, window)
            if key:
                action.setShortcut(QtGui.QKeySequence(key))
                action.setToolTip(f"{text} ({key})")
            action.triggered.connect(lambda _checked=False, s=slot: s())
            menu.addAction(action)
            toolbar.addAction(action)
            window.addAction(action)
            window.actions_by_name[name] = action
        heatmaps = window.actions_by_name["ai_heatmaps"]
        heatmaps.setCheckable(True)
        heatmaps.setChecked(any(c.style.visible(k) for k in HEATMAP_KINDS))
        menu.addSeparator()
        for dock in self.docks.values():
            menu.addAction(dock.toggleViewAction())

    def _on_visibility(self, _kind: str, _visible: bool) -> None:
        style = self.controller.style
        self.window.actions_by_name["ai_heatmaps"].setChecked(
            any(style.visible(k) for k in HEATMAP_KINDS)
        )

    # --- status --------------------------------------------------------------------------

    def show_progress(self, text: str, step: int = 0, steps: int = 0) -> None:
        """Status bar: the AI's stage and provider, with 'step/steps' while a stage runs.

        Text only: a progress bar's repaint costs milliseconds on every stage.
        """
        self.progress_label.setText(f"{text} [{step}/{steps}]" if steps else text)

    def badge(self, canvas: ImageCanvas) -> AiBadge:
        """The canvas' badge (made on first use)."""
        badge = canvas.findChild(AiBadge, "ai_badge")
        return badge if isinstance(badge, AiBadge) else AiBadge(canvas)

    def update_badges(self, *_: object) -> None:
        """Each canvas shows the badge while its image has AI output; so does the status bar."""
        shown = False
        for canvas in self.window.grid.canvases:
            findings = self.controller.findings_for(canvas)
            self.badge(canvas).show_for(findings)
            shown = shown or (findings is not None and findings.result is not None)
        self.clinical_label.setVisible(shown)

    # --- dialogs and exports -------------------------------------------------------------

    def show_model_card(self) -> QtWidgets.QDialog | None:
        """The loaded model's card (non-modal), or a notice when no model is loaded."""
        analyzer = self.controller.analyzer
        if analyzer is None:
            self.window.notifier.notify(
                Level.WARNING, self.controller.model_error or "The AI model is still loading."
            )
            return None
        dialog = ModelCardDialog(analyzer.manifest, analyzer.provider, self.window)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_settings(self) -> None:
        """Edit the AI settings (modal); OK applies and persists them."""
        dialog = AiSettingsDialog(self.controller.options, self.window)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            self.controller.apply_options(dialog.options())

    def ask_export_png(self) -> None:
        """Save the active view with its visible layers."""
        canvas = self.window.grid.active
        if canvas is None or canvas.display is None:
            return
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Export view", "view.png", "PNG (*.png)"
        )
        if name:
            self._export(lambda: export_view_png(canvas, Path(name)))

    def ask_export_json(self) -> None:
        """Save the active image's analysis as `mammolens analyze` JSON."""
        findings = self.controller.findings_for()
        if findings is None or findings.result is None:
            self.window.notifier.notify(Level.INFO, "No analysis to export for this image.")
            return
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Export analysis", "analysis.json", "JSON (*.json)"
        )
        if name:
            result, source = findings.result, findings.identity.path
            self._export(lambda: export_analysis_json(result, source, Path(name)))

    def _export(self, write: object) -> None:
        try:
            path = write()  # type: ignore[operator]
        except ExportError as error:
            self.window.notifier.notify(Level.ERROR, str(error))
            return
        self.window.notifier.notify(Level.INFO, f"Saved {path}")

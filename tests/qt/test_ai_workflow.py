"""The AI's workflow in the window: rapid switching, broken model folder, model card, settings,
export, bundled model by default."""

# ruff: noqa: F811  (fixtures imported from tests.qt.ai_fixtures are parameters here)

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from inference import Device, Result
from tests.qt.ai_fixtures import ai_window, open_study, small_model  # noqa: F401
from tests.qt.dicom_factory import breast_pixels, write_four_views, write_mg
from tests.qt.helpers import drag
from viewer.commands.analyze import default_model_dir
from viewer.model.findings import AnalysisStatus, LayerKind
from viewer.qt.ai_controller import AiUnavailableError
from viewer.qt.ai_settings import AiOptions, AiSettings, AiSettingsDialog
from viewer.qt.export import export_analysis_json, export_view_png
from viewer.qt.main_window import THUMBNAIL_DELAY_MS
from viewer.qt.model_card import ModelCardDialog
from viewer.qt.notify import Level


def shown_uid(canvas) -> str:
    return canvas.display.image.header.sop_instance_uid


def test_rapid_switching_never_shows_a_result_on_another_image(
    qtbot, settings, small_model, tmp_path
):
    paths = write_four_views(tmp_path)
    extra = [
        write_mg(tmp_path / f"x{i}.dcm", breast_pixels(1600, 1300, seed=10 + i), laterality="L")
        for i in range(4)
    ]
    window, ai = ai_window(qtbot, settings, small_model)
    delivered: list[tuple[str, str]] = []
    ai.analysis_done.connect(
        lambda ident, result: delivered.append((ident.path, result.sop_instance_uid))
    )
    open_study(qtbot, window, list(paths.values()))
    qtbot.waitUntil(lambda: ai.analyzer is not None, timeout=60000)
    for round_ in range(3):  # switch the active view between images while analyses run
        for path in extra + list(paths.values()):
            window.open_in_active(path)
            qtbot.wait(15 * (round_ % 2))
    qtbot.waitUntil(lambda: not window.jobs.busy and not ai.busy, timeout=120000)
    for canvas in window.grid.canvases:
        result = ai.wait_for_result(60, canvas)
        findings = ai.findings_for(canvas)
        assert result.sop_instance_uid == shown_uid(canvas)
        assert findings.identity.path == str(canvas.display.image.header.path)
        assert findings.identity.pixel_sha256 == result.provenance.input_sha256
        names = [layer.name for layer in canvas.display.layers]
        assert names.count("AI crop boxes") == 1  # exactly one result's layers on the image
    for path, uid in delivered:  # every delivered result matched the file it named
        assert shown_uid_of_file(Path(path)) == uid
    assert len(ai.registry.results()) == len(window.grid.canvases)
    opened = 3 * (len(extra) + len(paths)) + len(paths)
    assert len(delivered) < opened  # analyses of images switched away were dropped
    qtbot.wait(THUMBNAIL_DELAY_MS + 100)  # the browser's delayed thumbnail jobs, then none
    window.jobs.wait()
    QtCore.QThreadPool.globalInstance().waitForDone(10000)
    assert QtCore.QThreadPool.globalInstance().activeThreadCount() == 0
    ai.wait()
    assert ai.pool.activeThreadCount() == 0 and not ai.busy
    assert not [m for level, m in window.notifier.history if level is Level.ERROR]


def shown_uid_of_file(path: Path) -> str:
    from viewer import dicomio

    return dicomio.read_header(path).sop_instance_uid


def test_broken_model_folder_says_why_and_the_viewer_stays_usable(
    qtbot, settings, small_model, tmp_path
):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "manifest.json").write_text('{"schema_version": 99, "name": "x"}')
    window, ai = ai_window(qtbot, settings, small_model)
    qtbot.waitUntil(lambda: ai.analyzer is not None, timeout=60000)
    ai.apply_options(AiOptions(broken, Device.CPU, 6, True))
    qtbot.waitUntil(lambda: bool(ai.model_error), timeout=60000)
    errors = [m for level, m in window.notifier.history if level is Level.ERROR]
    assert errors and str(broken) in errors[-1] and "schema_version" in errors[-1]
    assert "without AI" in errors[-1]
    assert AiSettings(settings.store).load().model_dir == broken  # persisted
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_study(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    before = canvas.display.window
    drag(canvas.viewport(), (300, 300), (350, 280), QtCore.Qt.MouseButton.RightButton)
    assert canvas.display.window != before  # windowing still works
    findings = ai.findings_for(canvas)
    assert findings.status is AnalysisStatus.FAILED and str(broken) in findings.error
    with pytest.raises(AiUnavailableError, match="schema_version"):
        ai.wait_for_result(5)
    assert "AI is off" in ai.ui.findings.model_label.text()
    assert not list(canvas.display.layers)  # no AI layers on the image
    ai.apply_options(AiOptions(small_model, Device.CPU, 6, True))  # a good folder again
    assert ai.wait_for_result(60).sop_instance_uid == shown_uid(canvas)


def test_model_card_settings_and_exports(qtbot, settings, small_model, tmp_path):
    window, ai = ai_window(qtbot, settings, small_model, top_k=4)
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_study(qtbot, window, [path])
    result = ai.wait_for_result(60)
    assert len(result.crops) == 4 and len(ai.ui.findings.crop_texts()) == 4
    dialog = ai.ui.show_model_card()
    assert isinstance(dialog, ModelCardDialog)
    text = dialog.browser.toPlainText()
    for expected in ("test-model", "0.0.1", "NOT FOR CLINICAL USE", "Intended use", "tests only",
                     "Training data", "sensitivity", "90.0%", "auc"):  # fmt: skip
        assert expected in text, expected
    dialog.close()
    png = export_view_png(window.grid.active, tmp_path / "view.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = export_analysis_json(result, path, tmp_path / "a.json")
    data = json.loads(out.read_text())
    assert data["source_path"] == str(path) and data["format"] == "mammolens-result/1"
    again = Result.from_json(out.read_text())
    assert [c.score for c in again.crops] == [c.score for c in result.crops]
    ai.ui.layers.checks[LayerKind.CROP_BOXES].setChecked(False)
    assert not ai.style.visible(LayerKind.CROP_BOXES)
    assert not ai.findings_for().layer(LayerKind.CROP_BOXES)[0].visible
    stored = AiSettings(settings.store)
    stored.save(AiOptions(tmp_path, Device.CUDA, 3, False))
    assert stored.load() == AiOptions(tmp_path, Device.CUDA, 3, False)
    assert AiOptions().effective_model_dir == default_model_dir()
    assert default_model_dir().name == "mammolens-gmic-synthetic"
    assert isinstance(window.findChild(QtWidgets.QDockWidget, "dock_ai_findings"),
                      QtWidgets.QDockWidget)  # fmt: skip


def test_analyse_key_runs_on_demand_when_auto_run_is_off(qtbot, settings, small_model, tmp_path):
    window, ai = ai_window(qtbot, settings, small_model, auto_run=False)
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_study(qtbot, window, [path])
    qtbot.waitUntil(lambda: ai.analyzer is not None, timeout=60000)
    findings = ai.findings_for()
    assert findings.status is AnalysisStatus.NOT_STARTED and findings.result is None
    qtbot.keyClick(window, QtCore.Qt.Key.Key_A)
    assert ai.wait_for_result(60).sop_instance_uid == shown_uid(window.grid.canvases[0])
    assert "ready" in ai.ui.progress_text and "CPU" in ai.ui.progress_text


def test_an_analysis_error_reaches_the_notifier_and_the_image_stays(
    qtbot, settings, small_model, tmp_path, monkeypatch
):
    import viewer.qt.ai_controller as controller_module

    def out_of_memory(*_args: object) -> None:
        raise MemoryError("cannot allocate 2 GB")

    window, ai = ai_window(qtbot, settings, small_model)
    qtbot.waitUntil(lambda: ai.analyzer is not None, timeout=60000)
    monkeypatch.setattr(controller_module, "run_analysis", out_of_memory)
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    failed: list[str] = []
    ai.analysis_failed.connect(lambda identity, message: failed.append(message))
    open_study(qtbot, window, [path])
    with pytest.raises(AiUnavailableError, match="out of memory"):
        ai.wait_for_result(30)
    errors = [m for level, m in window.notifier.history if level is Level.ERROR]
    assert failed and errors and "a.dcm" in errors[-1] and "out of memory" in errors[-1]
    assert "failed" in ai.ui.findings.status_label.text()
    canvas = window.grid.canvases[0]
    assert canvas.display is not None and not list(canvas.display.layers)
    monkeypatch.undo()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_A)  # retry works once the cause is gone
    assert ai.wait_for_result(60).sop_instance_uid == shown_uid(canvas)


def test_settings_dialog_gives_the_edited_options(qtbot, small_model, tmp_path):
    dialog = AiSettingsDialog(AiOptions(None, Device.AUTO, 6, True))
    qtbot.addWidget(dialog)
    assert dialog.options() == AiOptions(None, Device.AUTO, 6, True)
    dialog.folder.setText(str(small_model))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.top_k.setValue(3)
    dialog.auto_run.setChecked(False)
    assert dialog.options() == AiOptions(small_model, Device.CPU, 3, False)

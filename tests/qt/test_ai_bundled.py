"""The app's default AI (the bundled model) on the demo study, in the window."""

# ruff: noqa: F811  (fixtures imported from tests.qt.ai_fixtures are parameters here)

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from inference import Device
from tests.qt.ai_fixtures import (  # noqa: F401
    demo_study,
    engine_result,
    lesions_of,
    open_study,
    wait_all,
)
from viewer.commands.analyze import default_model_dir
from viewer.qt.ai_controller import install_ai
from viewer.qt.main_window import MainWindow


def test_bundled_model_is_the_default_and_shows_the_demo_lesions(qtbot, settings, demo_study):
    window = MainWindow(settings)
    ai = install_ai(window)  # no options: the stored defaults, i.e. the bundled model, auto
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.wait())
    window.resize(1400, 900)
    window.show()
    assert ai.key.model_dir == default_model_dir()
    open_study(qtbot, window, list(demo_study.image_paths))
    wait_all(qtbot, ai, window, timeout_s=240)
    assert ai.analyzer is not None and ai.analyzer.manifest.name == "mammolens-gmic-synthetic"
    assert ai.analyzer.manifest.not_for_clinical_use
    found = {}
    for canvas in window.grid.canvases:
        name = Path(canvas.display.image.header.path).name
        result = ai.findings_for(canvas).result
        assert result is not None
        assert result.sop_instance_uid == canvas.display.image.header.sop_instance_uid
        for lesion in lesions_of(demo_study, name):
            row, col = lesion["center_yx_px"]
            boxes = [c.box for c in result.crops]
            found[name] = any(b[0] <= row < b[2] and b[1] <= col < b[3] for b in boxes)
    print(f"demo lesions inside a crop shown by the viewer: {found}")
    assert found["RCC.dcm"] and found["RMLO.dcm"]  # the two masses (the engine's tests: all)
    rcc = next(c for c in window.grid.canvases if c.display.image.header.path.name == "RCC.dcm")
    engine = engine_result(default_model_dir(), rcc.display.image.header.path, Device.AUTO)
    shown = ai.findings_for(rcc).result
    assert [c.score for c in shown.crops] == [c.score for c in engine.crops]
    assert [c.box for c in shown.crops] == [c.box for c in engine.crops]
    assert ai.ui.clinical_label.isVisible() or not window.isVisible()
    QtCore.QCoreApplication.processEvents()

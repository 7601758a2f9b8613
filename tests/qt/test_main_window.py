"""The main window, offscreen: open, window drag, zoom at cursor, keys, privacy, errors, hanging."""

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from tests.qt.conftest import open_and_wait
from tests.qt.dicom_factory import PATIENT_NAME, breast_pixels, write_four_views, write_mg
from tests.qt.helpers import drag, wheel
from viewer import dicomio
from viewer.qt.canvas import ImageCanvas
from viewer.qt.main_window import MainWindow
from viewer.qt.notify import Level
from viewer.qt.settings import Settings

Qt = QtCore.Qt


def linear_window(stored: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 LINEAR, to 8 bits: the formula the drag test checks against."""
    y = ((stored.astype(np.float64) - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.clip(y, 0, 255)


def item_rect(canvas: ImageCanvas) -> tuple[int, int, int, int]:
    """(row0, col0, rows, cols) the image item covers, in image pixels."""
    rect = canvas.image_item.mapRectToParent(canvas.image_item.boundingRect())
    return round(rect.top()), round(rect.left()), round(rect.height()), round(rect.width())


def test_window_drag_changes_the_rendered_pixels_as_the_formula_says(qtbot, window, tmp_path):
    pixels = breast_pixels()
    path = write_mg(tmp_path / "a.dcm", pixels, windows=((1500.0, 3000.0, "STANDARD"),))
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    assert canvas.camera.zoom > 1  # a small image is fitted: real pixels on screen
    row0, col0, rows, cols = item_rect(canvas)
    assert (row0, col0, rows, cols) == (0, 0, 240, 200)
    before = canvas.image_item.image.copy()
    np.testing.assert_allclose(before, linear_window(pixels, 1500, 3000), atol=1.0)

    drag(canvas.viewport(), (300, 300), (350, 280), Qt.MouseButton.RightButton)
    step = 2**12 / 1024  # modality units per screen pixel for 12-bit data
    window_now = canvas.display.window
    assert window_now.center == pytest.approx(1500 - 20 * step)
    assert window_now.width == pytest.approx(3000 + 50 * step)
    after = canvas.image_item.image
    assert after.dtype == np.uint8 and not np.array_equal(after, before)
    np.testing.assert_allclose(after, linear_window(pixels, 1420, 3200), atol=1.0)
    offset, table = dicomio.display_lut(canvas.display.image, canvas.display.voi, False)
    np.testing.assert_array_equal(after, table[pixels.astype(np.int64) - offset])
    assert "C 1420  W 3200" in " ".join(canvas.overlay.texts())


def test_left_drag_pans_and_wheel_zooms_at_the_cursor(qtbot, window, tmp_path):
    path = write_mg(tmp_path / "a.dcm", breast_pixels(480, 400))
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    viewport = canvas.viewport()
    x, y = viewport.width() * 0.3, viewport.height() * 0.6
    row, col = canvas.camera.screen_to_image(x, y)
    zoom = canvas.camera.zoom
    wheel(viewport, x, y, notches=3)
    assert canvas.camera.zoom > zoom * 1.2
    drawn = canvas.viewport_pos_of(row, col)  # through the Qt item transforms, not the model
    assert (drawn.x(), drawn.y()) == pytest.approx((x, y), abs=0.5)
    wheel(viewport, x, y, notches=-1)
    drawn = canvas.viewport_pos_of(row, col)
    assert (drawn.x(), drawn.y()) == pytest.approx((x, y), abs=0.5)

    before = canvas.viewport_pos_of(100, 100)
    drag(viewport, (200, 200), (260, 170), Qt.MouseButton.LeftButton)
    after = canvas.viewport_pos_of(100, 100)
    assert (after.x() - before.x(), after.y() - before.y()) == pytest.approx((60, -30), abs=0.5)

    mouse_move_status(canvas, 5, 5)
    assert "stored" in window.pixel_label.text() and "modality" in window.pixel_label.text()


def mouse_move_status(canvas: ImageCanvas, row: int, col: int) -> None:
    from tests.qt.helpers import mouse

    point = canvas.viewport_pos_of(row + 0.5, col + 0.5)
    mouse(canvas.viewport(), QtCore.QEvent.Type.MouseMove, point.x(), point.y(),
          Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)  # fmt: skip


def test_keys_invert_one_to_one_presets_reset(qtbot, window, tmp_path):
    windows = ((1500.0, 3000.0, "STANDARD"), (2500.0, 1000.0, "DENSE"))
    path = write_mg(tmp_path / "a.dcm", breast_pixels(), windows=windows)
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    display = canvas.display
    first = canvas.image_item.image.copy()
    qtbot.keyClick(canvas, Qt.Key.Key_I)
    assert display.invert
    np.testing.assert_array_equal(canvas.image_item.image, 255 - first)
    qtbot.keyClick(canvas, Qt.Key.Key_1)
    assert canvas.camera.zoom == 1.0
    qtbot.keyClick(canvas, Qt.Key.Key_F2)
    assert display.window.explanation == "DENSE"
    assert window.settings.last_preset("MG") == "DENSE"
    qtbot.keyClick(canvas, Qt.Key.Key_R)
    assert not display.invert and display.window.explanation == "STANDARD"
    assert canvas.camera.is_fitted
    qtbot.keyClick(canvas, Qt.Key.Key_F9)  # no such preset: a notice, nothing breaks
    assert window.notifier.history[-1][0] is Level.INFO


def everything_shown(window: MainWindow) -> str:
    """All text a user can see about the image: overlays, browser, tag tree, title, status."""
    texts = [window.windowTitle(), window.statusBar().currentMessage()]
    for canvas in window.grid.canvases:
        texts += canvas.overlay.texts()
    iterator = QtWidgets.QTreeWidgetItemIterator(window.browser.tree)
    while iterator.value():
        texts.append(iterator.value().text(0))
        iterator += 1
    texts += window.tags.visible_values()
    return "\n".join(texts).upper()


def test_privacy_toggle_removes_the_patient_name_everywhere(qtbot, window, tmp_path):
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_and_wait(qtbot, window, [path])
    qtbot.waitUntil(lambda: window.tags.tree.topLevelItemCount() > 0, timeout=10000)
    name_parts = PATIENT_NAME.split("^")
    assert all(part in everything_shown(window) for part in name_parts)
    assert "TP-0001" in everything_shown(window)
    qtbot.keyClick(window.grid.canvases[0], Qt.Key.Key_P)
    assert window.state.privacy
    shown = everything_shown(window)
    assert not any(part in shown for part in name_parts)
    assert "TP-0001" not in shown and "19650203" not in shown and "ACC-42" not in shown
    qtbot.keyClick(window.grid.canvases[0], Qt.Key.Key_P)
    assert all(part in everything_shown(window) for part in name_parts)


def test_a_bad_file_leaves_the_open_image_displayed_and_shows_an_error(qtbot, window, tmp_path):
    good = write_mg(tmp_path / "good.dcm", breast_pixels())
    open_and_wait(qtbot, window, [good])
    canvas = window.grid.canvases[0]
    shown = canvas.image_item.image.copy()
    bad = tmp_path / "not_dicom.dcm"
    bad.write_bytes(b"this is not a DICOM file at all" * 10)
    window.open_paths([bad])
    qtbot.waitUntil(
        lambda: any(lv is Level.ERROR for lv, _ in window.notifier.history), timeout=10000
    )
    window.jobs.wait()
    message = next(m for lv, m in window.notifier.history if lv is Level.ERROR)
    assert "not_dicom.dcm" in message
    assert window.notifier.toast.isVisible() and "not_dicom.dcm" in window.notifier.toast.text()
    assert canvas.display is not None and Path(canvas.display.image.header.path) == good
    np.testing.assert_array_equal(canvas.image_item.image, shown)


def test_a_decoder_crash_is_reported_and_the_viewer_keeps_working(
    qtbot, window, tmp_path, monkeypatch
):
    good = write_mg(tmp_path / "good.dcm", breast_pixels())
    open_and_wait(qtbot, window, [good])
    other = write_mg(tmp_path / "crashes.dcm", breast_pixels(seed=3))

    def crash(path, pool=None):
        raise dicomio.DecoderCrashedError(path, "the decoder process died (simulated abort)")

    monkeypatch.setattr(dicomio, "load_image", crash)
    window.open_paths([other])
    qtbot.waitUntil(
        lambda: any(lv is Level.ERROR for lv, _ in window.notifier.history), timeout=10000
    )
    window.jobs.wait()
    assert "crashes.dcm" in window.notifier.history[-1][1]
    assert Path(window.grid.canvases[0].display.image.header.path) == good
    qtbot.keyClick(window.grid.canvases[0], Qt.Key.Key_I)  # still responsive
    assert window.grid.canvases[0].display.invert


def test_four_view_study_hangs_rcc_lcc_over_rmlo_lmlo_facing_each_other(qtbot, window, tmp_path):
    paths = write_four_views(tmp_path)
    open_and_wait(qtbot, window, [tmp_path], slots=4)
    layout = window.grid.layout()
    placed = {}
    for canvas in window.grid.canvases:
        row, col, _, _ = layout.getItemPosition(layout.indexOf(canvas))
        header = canvas.display.image.header
        placed[(row, col)] = f"{header.laterality}{header.view_position}"
        width = canvas.viewport().width()
        chest_wall_x = canvas.viewport_pos_of(120, 0).x()  # stored with the chest wall at col 0
        if header.laterality == "R":
            assert chest_wall_x > width / 2  # right breast: chest wall toward the middle (right)
        else:
            assert chest_wall_x < width / 2
    assert placed == {(0, 0): "RCC", (0, 1): "LCC", (1, 0): "RMLO", (1, 1): "LMLO"}
    assert len(paths) == 4
    browser_paths = {p.name for p in window.browser.image_paths()}
    assert browser_paths == {"RCC.dcm", "LCC.dcm", "RMLO.dcm", "LMLO.dcm"}


def test_lossy_images_show_the_warning_banner(qtbot, window, tmp_path):
    path = write_mg(tmp_path / "lossy.dcm", breast_pixels(), lossy=True)
    open_and_wait(qtbot, window, [path])
    banner = window.grid.canvases[0].overlay.banner
    assert banner.isVisible() and "Lossy" in banner.text()


def test_settings_round_trip(qtbot, settings, tmp_path):
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    first.tags.parentWidget().show()
    first.browser.parentWidget().hide()
    settings.add_recent(tmp_path / "a.dcm")
    settings.add_recent(tmp_path / "b.dcm")
    settings.add_recent(tmp_path / "a.dcm")
    settings.set_last_preset("MG", "DENSE")
    first.close()

    reopened = Settings(
        QtCore.QSettings(settings.store.fileName(), QtCore.QSettings.Format.IniFormat)
    )
    assert reopened.recent_files() == [tmp_path / "a.dcm", tmp_path / "b.dcm"]
    assert reopened.last_preset("MG") == "DENSE"
    second = MainWindow(reopened)
    qtbot.addWidget(second)
    second.show()
    assert second.tags.parentWidget().isVisible()
    assert not second.browser.parentWidget().isVisible()


def test_dropping_a_folder_opens_it(qtbot, window, tmp_path):
    write_four_views(tmp_path)
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(tmp_path))])
    point = QtCore.QPointF(200, 200)
    copy, left, none = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    enter = QtGui.QDragEnterEvent(point.toPoint(), copy, mime, left, none)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(point, copy, mime, left, none)
    window.dropEvent(drop)
    qtbot.waitUntil(
        lambda: len(window.grid.canvases) == 4 and all(c.display for c in window.grid.canvases),
        timeout=20000,
    )
    window.jobs.wait()
    assert window.grid.active is window.grid.canvases[0]
    assert "3d8ee6" in window.grid.canvases[0].styleSheet()  # the active frame is drawn


def test_tag_tree_filter_shows_matching_elements_only(qtbot, window, tmp_path):
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_and_wait(qtbot, window, [path])
    qtbot.waitUntil(lambda: window.tags.tree.topLevelItemCount() > 0, timeout=10000)
    window.tags.search.setText("laterality")
    rows = window.tags.visible_values()
    assert rows == ["ImageLaterality L"]
    window.tags.search.setText("")
    assert len(window.tags.visible_values()) > 20


def test_a_window_destroyed_before_its_thumbnails_start_raises_nothing(qtbot, settings, tmp_path):
    from viewer.qt.main_window import THUMBNAIL_DELAY_MS

    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    main = MainWindow(settings)
    main.show()
    open_and_wait(qtbot, main, [path])
    main.jobs.wait()
    main.close()
    main.deleteLater()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    qtbot.wait(THUMBNAIL_DELAY_MS + 200)  # pytest-qt fails the test on an exception in a slot


def test_a_closed_window_starts_no_thumbnail_job_from_its_pending_timer(
    qtbot, settings, tmp_path, monkeypatch
):
    """CI once failed here: the timer fired after close, the window was deleted while the job ran,
    and its result reached a deleted tree item."""
    import viewer.qt.main_window as main_window_module

    made: list[object] = []
    real = main_window_module.make_thumbnail
    monkeypatch.setattr(main_window_module, "make_thumbnail", lambda *a: made.append(a) or real(*a))
    # Long enough that the timer cannot fire before close() even on a slow runner.
    monkeypatch.setattr(main_window_module, "THUMBNAIL_DELAY_MS", 2000)
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    main = MainWindow(settings)
    main.show()
    open_and_wait(qtbot, main, [path])  # the thumbnail timer is now pending
    assert made == []
    main.close()
    qtbot.wait(2200)
    assert made == [] and not main.jobs.busy
    main.deleteLater()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)


def test_a_window_shown_again_after_close_opens_images_again(qtbot, settings, tmp_path):
    main = MainWindow(settings)
    qtbot.addWidget(main, before_close_func=lambda w: w.jobs.wait())
    main.show()
    main.close()
    assert not main.jobs.start(lambda: None, returned=lambda _: None)  # closed: refused
    main.show()
    open_and_wait(qtbot, main, [write_mg(tmp_path / "a.dcm", breast_pixels())])
    assert main.grid.canvases[0].display is not None


def test_a_job_result_arriving_after_its_window_is_deleted_is_dropped(qtbot, settings):
    import threading

    main = MainWindow(settings)
    release = threading.Event()
    delivered: list[object] = []
    main.jobs.start(lambda: release.wait(10) and "late", returned=delivered.append)
    main.deleteLater()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    release.set()
    QtCore.QThreadPool.globalInstance().waitForDone(5000)
    qtbot.wait(100)
    assert delivered == []


def test_opening_a_folder_fills_the_sqlite_study_index(qtbot, settings, tmp_path):
    import sqlite3

    (tmp_path / "study").mkdir()
    write_four_views(tmp_path / "study")
    cache = dicomio.HeaderCache(tmp_path / "index.sqlite")
    main = MainWindow(settings, header_cache=cache)
    qtbot.addWidget(main, before_close_func=lambda w: w.jobs.wait())
    main.show()
    open_and_wait(qtbot, main, [tmp_path / "study"], slots=4)
    main.jobs.wait()
    rows = sqlite3.connect(tmp_path / "index.sqlite").execute("SELECT path FROM headers")
    indexed = sorted(Path(p).name for (p,) in rows)
    assert indexed == sorted(p.name for p in (tmp_path / "study").iterdir())

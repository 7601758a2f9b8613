"""Window-level behaviour: the version in the title, the first geometry, visible box colours."""

import viewer
from viewer.qt.main_window import MainWindow


def test_window_title_shows_the_app_version(window: MainWindow) -> None:
    assert viewer.__version__ != "0.0.0+unknown"  # the distribution is installed
    assert window.windowTitle() == f"MammoLens {viewer.__version__}"


def test_a_tiny_saved_window_opens_on_the_whole_screen(qtbot, settings) -> None:
    from PySide6 import QtWidgets

    from viewer.qt.app import show_window

    first = MainWindow(settings)
    qtbot.addWidget(first)
    screen = QtWidgets.QApplication.primaryScreen().availableGeometry()
    first.setGeometry(10, 10, screen.width() // 2, screen.height() // 2)
    first.close()  # saves the small geometry
    second = MainWindow(settings)
    qtbot.addWidget(second)
    show_window(second, screen)
    assert second.width() >= 0.95 * screen.width() and second.height() >= 0.9 * screen.height()
    assert second.grid.width() >= 480  # the docks never squeeze the images to a sliver


def test_a_usable_saved_window_keeps_its_geometry(qtbot, settings) -> None:
    from PySide6 import QtCore, QtWidgets

    from viewer.qt.app import show_window

    first = MainWindow(settings)
    qtbot.addWidget(first)
    screen = QtWidgets.QApplication.primaryScreen().availableGeometry()
    size = (int(screen.width() * 0.9), int(screen.height() * 0.9))
    first.setGeometry(QtCore.QRect(QtCore.QPoint(0, 0), QtCore.QSize(*size)))
    first.show()
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    show_window(second, screen)
    assert abs(second.width() - size[0]) <= 4 and abs(second.height() - size[1]) <= 30


def test_low_score_boxes_stay_visible_on_a_black_background() -> None:
    from viewer.qt.layer_items import box_color

    low, high = box_color(0.0), box_color(1.0)
    assert low.lightness() >= 80  # viridis' own low end (#440154) has lightness 43
    assert high.lightness() > low.lightness()
    assert box_color(-1.0) == low and box_color(2.0) == high  # clamped

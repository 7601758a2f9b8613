"""The leak check itself: a shown, unclosed top-level widget is found."""

from PySide6 import QtWidgets

from tests.qt.conftest import _alive_top_levels, leaked_widgets


def test_leak_check_finds_a_widget_left_open(qapp) -> None:
    before = _alive_top_levels()
    widget = QtWidgets.QLabel("left open")
    widget.show()
    try:
        assert widget in leaked_widgets(before)
    finally:
        widget.close()
        widget.deleteLater()
    assert widget not in leaked_widgets(before)

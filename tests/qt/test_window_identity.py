"""What the installer issue asks of the window itself: the app version in its title."""

import viewer
from viewer.qt.main_window import MainWindow


def test_window_title_shows_the_app_version(window: MainWindow) -> None:
    assert viewer.__version__ != "0.0.0+unknown"  # the distribution is installed
    assert window.windowTitle() == f"MammoLens {viewer.__version__}"

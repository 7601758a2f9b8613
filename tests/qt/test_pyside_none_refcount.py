"""PySide6 6.12 on CPython 3.11 decrefs None per void call; importing viewer.qt must survive it."""

import subprocess
import sys

SCRIPT = """
import os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import viewer.qt  # the guard
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
label = QtWidgets.QLabel()
for i in range(300_000):  # ~30 x None's usual reference count: fatal without the guard
    label.setText("x")
print("survived")
"""


def test_many_void_qt_calls_do_not_abort_the_interpreter() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "survived" in proc.stdout

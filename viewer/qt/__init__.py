"""The Qt GUI: main window, image canvases, panels and workers (PySide6 + pyqtgraph + superqt).

Importing it applies the GUI process's runtime fixes (`viewer.qt.runtime`) and sets pyqtgraph's
image axis order once: DICOM arrays are (rows, cols), row-major.
"""

import pyqtgraph as pg

from viewer.qt import runtime

runtime.return_large_buffers_to_the_os()
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

"""The Qt GUI: main window, image canvases, panels and workers (PySide6 + pyqtgraph + superqt).

pyqtgraph's image axis order is set once here: DICOM arrays are (rows, cols), row-major.
"""

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

"""Layer items follow their model (cheap update vs redraw); color and multi-frame images."""

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from PySide6 import QtCore, QtGui

from tests.qt.conftest import open_and_wait
from tests.qt.dicom_factory import breast_pixels, write_mg
from viewer.model import BoxesLayer, HeatmapLayer, ScoredBox


def grab(canvas) -> QtGui.QImage:
    image = QtGui.QImage(canvas.size(), QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(image)
    canvas.render(painter)
    painter.end()
    return image


def colour_at(canvas, row: float, col: float) -> tuple[int, int, int]:
    image = grab(canvas)
    point = canvas.viewport_pos_of(row, col).toPoint() + canvas.viewport().pos()
    c = QtGui.QColor(image.pixel(point))
    return c.red(), c.green(), c.blue()


def test_heatmap_layer_colours_its_box_and_toggles_off(qtbot, window, tmp_path):
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    gray = colour_at(canvas, 120, 60)
    assert gray[0] == gray[1] == gray[2]
    values = np.ones((8, 8), dtype=np.float32)
    heatmap = HeatmapLayer("global", values, (100, 40, 140, 80), opacity=1.0, threshold=0.1)
    canvas.display.layers.append(heatmap)
    red, green, blue = colour_at(canvas, 120, 60)
    assert not (red == green == blue)  # inferno at 1.0 is a pale yellow
    heatmap.visible = False
    assert colour_at(canvas, 120, 60) == gray
    heatmap.visible = True
    heatmap.threshold = 1.0  # values below 1.0 hidden: 1.0 itself still drawn
    assert colour_at(canvas, 120, 60) != gray
    heatmap.set_data(np.zeros((8, 8), dtype=np.float32), (100, 40, 140, 80))
    assert colour_at(canvas, 120, 60) == gray  # all below threshold
    boxes = BoxesLayer("crops", (ScoredBox((10, 10, 50, 50), 0.9),))
    canvas.display.layers.append(boxes)
    assert len(canvas.layer_items.items) == 2
    canvas.display.layers.remove(heatmap)
    assert len(canvas.layer_items.items) == 1


def write_rgb(path, frames: int = 1):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.Modality = "COLOR^TEST", "C1", "OT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.Rows, ds.Columns = 60, 80
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    pixels = np.zeros((frames, 60, 80, 3), dtype=np.uint8)
    pixels[:, :, :40, 0] = 255  # left half red
    pixels[:, :, 40:, 2] = 255  # right half blue
    for frame in range(frames):
        pixels[frame, :5, :5] = frame * 50
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_color_images_are_shown_in_color(qtbot, window, tmp_path):
    path = write_rgb(tmp_path / "rgb.dcm")
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    assert canvas.image_item.image.shape[-1] == 3
    assert colour_at(canvas, 30, 10) == (255, 0, 0)
    assert colour_at(canvas, 30, 70) == (0, 0, 255)


def test_multi_frame_images_get_a_frame_slider(qtbot, window, tmp_path):
    path = write_rgb(tmp_path / "frames.dcm", frames=3)
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    assert window.frames_toolbar.isVisible() and window.frame_slider.maximum() == 2
    window.frame_slider.setValue(2)
    assert canvas.display.frame == 2
    assert tuple(canvas.image_item.image[0, 0]) == (100, 100, 100)
    assert "Frame 3/3" in " ".join(canvas.overlay.texts())
    QtCore.QCoreApplication.processEvents()


def test_box_labels_go_outside_their_box_and_apart():
    from PySide6.QtCore import QRectF, QSizeF

    from viewer.qt.layer_items import place_labels

    size = QSizeF(20, 14)
    a = QRectF(0, 0, 40, 40)
    b = QRectF(5, 3, 40, 40)  # its above-left place is under a's label
    far = QRectF(200, 200, 40, 40)
    placed = place_labels([a, b, far], [size] * 3)
    assert placed[0] == QRectF(0, -14, 20, 14)  # just above the first box, at its left
    assert placed[1] == QRectF(25, -11, 20, 14)  # the next one moves to its above-right
    assert placed[2] == QRectF(200, 186, 20, 14)
    assert not placed[0].intersects(placed[1])
    # Five boxes on one spot fill the four outside corners; the fifth goes inside, at a corner,
    # off the centre of the box (the middle half, where the crop's peak lies).
    same = [QRectF(0, 0, 40, 40)] * 5
    corners = place_labels(same, [size] * 5)
    assert len({(r.x(), r.y()) for r in corners[:4]}) == 4
    assert all(not corners[i].intersects(corners[j]) for i in range(5) for j in range(i))
    assert all(not r.intersects(QRectF(0, 0, 40, 40)) for r in corners[:4])
    assert corners[4] == QRectF(0, 0, 20, 14)
    # At the top of the viewport the label goes below the box, not off-screen.
    top = place_labels([QRectF(10, 0, 40, 40)], [size], QRectF(0, 0, 300, 300))
    assert top == [QRectF(10, 40, 20, 14)]
    # A label never covers the centre of another box when a free place exists.
    big, small = QRectF(0, 30, 100, 100), QRectF(40, 10, 20, 20)
    first, second = place_labels([small, big], [size] * 2, QRectF(-50, -50, 300, 300))
    centre = big.adjusted(25, 25, -25, -25)
    assert not first.intersects(centre) and not second.intersects(centre)


def test_overlapping_boxes_get_labels_apart_on_screen(qtbot, window, tmp_path):
    path = write_mg(tmp_path / "a.dcm", breast_pixels())
    open_and_wait(qtbot, window, [path])
    canvas = window.grid.canvases[0]
    boxes = BoxesLayer(
        "crops",
        (
            ScoredBox((100, 40, 140, 80), 0.9, "#1"),
            ScoredBox((102, 42, 142, 82), 0.8, "#2"),  # nearly the same box
            ScoredBox((10, 10, 50, 50), 0.3, "#3"),
        ),
    )
    canvas.display.layers.append(boxes)
    labels = canvas.layer_items.items[id(boxes)].labels
    grab(canvas)  # paint: the labels are placed in screen pixels
    assert labels.texts() == ["#1", "#2", "#3"]
    first, second, third = labels.placed
    assert not first.intersects(second) and not third.intersects(first)
    screen_box = QtCore.QRectF(
        canvas.viewport_pos_of(100, 40), canvas.viewport_pos_of(140, 80)
    ).normalized()
    # just outside its own box, at a corner, and on the screen
    assert not first.intersects(screen_box.adjusted(2, 2, -2, -2))
    assert screen_box.adjusted(-first.width() - 2, -first.height() - 2, 2, 2).contains(first)
    assert QtCore.QRectF(canvas.viewport().rect()).contains(first)
    boxes.visible = False
    assert not labels.isVisible()
    boxes.set_boxes((ScoredBox((10, 10, 50, 50), 0.3, "#1"),))
    labels = canvas.layer_items.items[id(boxes)].labels
    assert labels.texts() == ["#1"] and labels.scene() is canvas.scene()

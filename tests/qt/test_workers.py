"""Worker jobs without Qt: thumbnails through SimpleITK, scan errors, brightness preview."""

import numpy as np

from tests.qt.dicom_factory import breast_pixels, write_mg
from viewer import dicomio
from viewer.qt.workers import THUMBNAIL_SIZE, brightness_preview, make_thumbnail, scan


def test_thumbnail_is_the_displayed_image_block_averaged(tmp_path) -> None:
    path = write_mg(tmp_path / "a.dcm", breast_pixels(480, 400))
    image = dicomio.load_image(path)
    voi = dicomio.default_voi(image)
    thumbnail = make_thumbnail(image, voi)
    assert thumbnail.dtype == np.uint8 and max(thumbnail.shape) <= THUMBNAIL_SIZE
    assert thumbnail.shape == (160, 133)  # 480 x 400 shrunk by 3 (BinShrink drops partial blocks)
    displayed = dicomio.render_display(image, voi)
    block = displayed[:3, :3].astype(float).mean()
    assert abs(float(thumbnail[0, 0]) - block) <= 2.0


def test_scan_reports_bad_files_and_keeps_the_good_ones(tmp_path) -> None:
    write_mg(tmp_path / "good.dcm", breast_pixels())
    (tmp_path / "bad.dcm").write_bytes(b"not dicom" * 40)
    result = scan([tmp_path])
    assert [h.path.name for h in result.headers] == ["good.dcm"]
    assert any("bad.dcm" in str(error) for error in result.errors)


def test_brightness_preview_is_tissue_bright(tmp_path) -> None:
    path = write_mg(tmp_path / "a.dcm", breast_pixels(320, 320, chest_wall="right"))
    image = dicomio.load_image(path)
    preview = brightness_preview(image, dicomio.default_voi(image))
    assert preview.shape == (20, 20)
    assert preview[:, -3:].mean() > preview[:, :3].mean()

"""Camera: zoom at a point keeps that point fixed, pan, fit, 1:1, mirroring, validation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viewer.model import Camera, CameraError


def test_fit_shows_the_whole_image_centered() -> None:
    camera = Camera((4096, 3328), (1600, 1200))
    assert camera.zoom == pytest.approx(1200 / 4096)
    row0, col0, row1, col1 = camera.visible_rect()
    assert row0 == pytest.approx(0) and row1 == pytest.approx(4096)
    assert col0 < 0 and col1 > 3328  # letterboxed left and right
    assert camera.image_to_screen(2048, 1664) == pytest.approx((800, 600))


@given(
    factor=st.floats(0.2, 5.0),
    x=st.floats(0, 1599),
    y=st.floats(0, 1199),
    flip=st.booleans(),
)
def test_zoom_at_keeps_the_point_under_the_cursor(factor: float, x: float, y: float, flip: bool):
    camera = Camera((4096, 3328), (1600, 1200))
    camera.flip_horizontal = flip
    camera.set_view(0.5, (2000.0, 1500.0))
    before = camera.screen_to_image(x, y)
    camera.zoom_at(factor, (x, y))
    assert camera.zoom == pytest.approx(0.5 * factor)
    assert camera.screen_to_image(x, y) == pytest.approx(before, abs=1e-6)


def test_pan_moves_the_image_with_the_mouse_also_when_mirrored() -> None:
    for flip in (False, True):
        camera = Camera((1000, 800), (400, 400))
        camera.flip_horizontal = flip
        camera.set_view(1.0, (500.0, 400.0))
        point = camera.screen_to_image(100, 100)
        camera.pan(30, -20)
        assert camera.image_to_screen(*point) == pytest.approx((130, 80))


def test_mirroring_swaps_left_and_right() -> None:
    camera = Camera((100, 200), (200, 100))
    assert camera.image_to_screen(50, 0)[0] == pytest.approx(0)
    camera.flip_horizontal = True
    assert camera.image_to_screen(50, 0)[0] == pytest.approx(200)


def test_view_changed_fires_once_per_zoom_and_not_for_no_change() -> None:
    camera = Camera((100, 100), (100, 100))
    calls = []
    camera.view_changed.connect(lambda: calls.append(1))
    camera.zoom_at(2.0, (10, 10))
    assert calls == [1]
    camera.set_view(camera.zoom, camera.center)
    assert calls == [1]


def test_one_to_one_and_fit_after_resize() -> None:
    camera = Camera((1000, 1000), (500, 500))
    camera.one_to_one()
    assert camera.zoom == 1.0 and not camera.is_fitted
    camera.fit()
    camera.canvas_size = (250, 250)
    assert camera.zoom == pytest.approx(0.25)  # a fitted view stays fitted


def test_invalid_values_are_refused_with_the_field_named() -> None:
    with pytest.raises(CameraError, match="image_shape"):
        Camera((0, 10))
    camera = Camera((10, 10))
    with pytest.raises(CameraError, match="canvas_size"):
        camera.canvas_size = (0, 5)
    with pytest.raises(CameraError, match="zoom factor"):
        camera.zoom_at(0.0, (1, 1))


def test_fit_side_puts_the_image_against_that_side_also_when_mirrored() -> None:
    for flip in (False, True):
        camera = Camera((400, 100), (300, 200))
        camera.flip_horizontal = flip
        camera.fit_side = "right"
        xs = sorted(camera.image_to_screen(200, col)[0] for col in (0, 100))
        assert xs[1] == pytest.approx(300)  # the image touches the right edge
        camera.fit_side = "left"
        xs = sorted(camera.image_to_screen(200, col)[0] for col in (0, 100))
        assert xs[0] == pytest.approx(0)
        camera.set_view(2.0, (10, 10))
        camera.fit_side = "right"  # not fitted any more: the view stays
        assert camera.zoom == 2.0

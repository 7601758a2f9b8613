"""gradcam_map reproduces pytorch-grad-cam 1.5.7's map; the resize matches cv2.resize."""

from __future__ import annotations

import numpy as np
import pytest

from inference.gradcam import gradcam_map, has_positive_evidence, resize_linear, scale_cam_image

# cv2 comes with grad-cam (the train extra, installed in CI); it is never imported by `inference`.
cv2 = pytest.importorskip("cv2")

SIZES = [
    ((32, 26), (256, 208)),
    ((8, 8), (256, 256)),
    ((7, 5), (100, 37)),
    ((64, 52), (1024, 832)),
    ((1, 6), (10, 30)),
    ((64, 52), (48, 40)),
    ((13, 11), (13, 11)),
]


@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_resize_linear_matches_cv2(src: tuple[int, int], dst: tuple[int, int]) -> None:
    image = np.random.default_rng(sum(src + dst)).normal(size=src).astype(np.float32)
    ours = resize_linear(image, dst)
    theirs = cv2.resize(image, (dst[1], dst[0]), interpolation=cv2.INTER_LINEAR)
    assert ours.shape == theirs.shape == dst
    assert np.abs(ours - theirs).max() <= 1e-5


def _reference(cam: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """pytorch-grad-cam 1.5.7 BaseCAM: ReLU, scale_cam_image(size), aggregate, scale again."""
    image = pytest.importorskip("pytorch_grad_cam.utils.image")
    relu = np.maximum(cam[None], 0)
    per_layer = image.scale_cam_image(relu, (out_hw[1], out_hw[0]))[:, None, :]
    result = np.mean(np.maximum(per_layer, 0), axis=1)
    return image.scale_cam_image(result)[0]


@pytest.mark.parametrize(("src", "dst"), SIZES[:4])
def test_gradcam_map_equals_pytorch_grad_cam_postprocessing(
    src: tuple[int, int], dst: tuple[int, int]
) -> None:
    cam = np.random.default_rng(7).normal(size=src).astype(np.float32)
    ours = gradcam_map(cam, dst)
    assert ours.dtype == np.float32 and ours.shape == dst
    assert np.abs(ours - _reference(cam, dst)).max() <= 1e-5
    assert ours.min() == 0 and abs(float(ours.max()) - 1) < 1e-5


def test_gradcam_is_invariant_to_a_positive_scale() -> None:
    cam = np.random.default_rng(3).normal(size=(16, 13)).astype(np.float32)
    assert np.abs(gradcam_map(cam, (64, 52)) - gradcam_map(cam * 37.5, (64, 52))).max() < 1e-5


def test_non_positive_cam_gives_all_zero_map() -> None:
    cam = -np.abs(np.random.default_rng(1).normal(size=(8, 8))).astype(np.float32)
    out = gradcam_map(cam, (32, 32))
    assert not has_positive_evidence(cam)
    assert np.count_nonzero(out) == 0
    assert np.abs(out - _reference(cam, (32, 32))).max() == 0


def test_scale_cam_image_formula() -> None:
    x = np.array([[2.0, 4.0], [6.0, 10.0]], np.float32)
    expected = (x - 2) / (1e-7 + 8)
    assert np.allclose(scale_cam_image(x), expected, atol=0, rtol=1e-7)

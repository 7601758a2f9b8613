"""Grad-CAM maps exactly as pytorch-grad-cam 1.5.7 produces them, from the model's cam output.

For a head logit = pool(sum_k w_k A_k) + b with an increasing pooling, Grad-CAM's channel weights
are the w_k times a positive constant, so ReLU(cam) is the Grad-CAM map up to that constant, which
the min-max normalization removes. pytorch-grad-cam then: ReLU, scale_cam_image (subtract min,
divide by 1e-7 + max), cv2.resize (INTER_LINEAR) to the input size, and scale_cam_image again.
"""

from __future__ import annotations

import numpy as np

_EPS = np.float32(1e-7)


def scale_cam_image(cam: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's per-image normalization: (x - min) / (1e-7 + max(x - min))."""
    img = cam.astype(np.float32) - np.min(cam).astype(np.float32)
    img /= _EPS + np.max(img)
    return img


def _axis_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cv2 INTER_LINEAR source taps: half-pixel centres, weights zeroed at the clamped edges."""
    scale = np.float64(n_in) / np.float64(n_out)
    pos = ((np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    left = np.floor(pos).astype(np.int64)
    frac = (pos - left).astype(np.float32)
    low = left < 0
    frac[low], left[low] = 0.0, 0
    high = left >= n_in - 1
    frac[high], left[high] = 0.0, n_in - 1
    right = np.minimum(left + 1, n_in - 1)
    return left, right, frac


def resize_linear(image: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float32 array with cv2.resize(..., INTER_LINEAR) semantics.

    Matches cv2 within 1e-5 for upsampling and for downsampling by non-integer factors (cv2 itself
    switches to INTER_AREA for an exact 2x downsample, which this does not imitate).
    """
    src = np.asarray(image, dtype=np.float32)
    top, bottom, fy = _axis_taps(src.shape[0], out_hw[0])
    left, right, fx = _axis_taps(src.shape[1], out_hw[1])
    rows = src[:, left] * (1 - fx) + src[:, right] * fx
    # rows[top] * (1 - fy) + rows[bottom] * fy, in place: the same float32 operations, fewer
    # full-size temporaries (this is most of a global heatmap's cost)
    out = rows[top]
    out *= (1 - fy)[:, None]
    lower = rows[bottom]
    lower *= fy[:, None]
    out += lower
    return out


def gradcam_map(cam: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """The normalized Grad-CAM map (float32 in [0, 1], shape out_hw) of a (h, w) cam map.

    Equals pytorch_grad_cam.GradCAM(model, [layer])(input, [ClassifierOutputTarget(0)])[0] for
    a model whose cam output is the linear score map of that layer (see MODEL_FORMAT.md).
    An all-non-positive cam gives an all-zero map: "no positive evidence".
    """
    relu = np.maximum(np.asarray(cam, dtype=np.float32), 0)
    once = scale_cam_image(relu)
    return scale_cam_image(resize_linear(once, out_hw))


def has_positive_evidence(cam: np.ndarray) -> bool:
    """False when ReLU(cam) is zero everywhere, so the normalized map is all zero."""
    return bool(np.any(np.asarray(cam) > 0))

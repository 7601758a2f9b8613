"""Lesion-free synthetic breast anatomy, in canonical orientation (chest wall at column 0).

Smooth fields (outline, thickness fall-off, fibroglandular density with a 1/f^beta spectrum,
pectoral muscle) are computed on a coarse grid of about 0.28 mm and upsampled with SimpleITK;
the breast and pectoral masks and the quantum noise are made at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813  (the library's own convention)

from viewer.dicomio.synthetic_types import View

COARSE_SPACING_MM = 0.28
REFERENCE_SPACING_MM = 0.07
BACKGROUND_LEVEL = 18.0
BACKGROUND_NOISE = 3.0
TEXTURE_BETA = 3.0
STORED_MAX = 4095


@dataclass(frozen=True)
class BreastShape:
    """Per-image random anatomy parameters (fractions of the image unless named _mm)."""

    depth: float  # nipple distance from the chest wall, fraction of columns
    center: float  # row of the widest point, fraction of rows
    half_height_upper: float  # fraction of rows, above the widest point
    half_height_lower: float  # fraction of rows, below it
    exponent_upper: float
    exponent_lower: float
    ripple: tuple[tuple[float, float, float], ...]  # (harmonic, amplitude, phase)
    falloff_mm: float
    skin_mm: float
    fat_level: float
    dense_level: float
    skin_level: float
    density: float  # 0 fatty .. 1 extremely dense
    pectoral_top: float  # pectoral width at the top row, fraction of columns (0: none)
    pectoral_height: float  # pectoral length along the chest wall, fraction of rows
    pectoral_bulge: float
    pectoral_level: float


@dataclass(frozen=True, eq=False)
class Anatomy:
    """A lesion-free image (float32 stored-value units) and its masks, canonical orientation."""

    image: np.ndarray
    breast_mask: np.ndarray
    pectoral_mask: np.ndarray
    edge_distance_mm: np.ndarray  # coarse grid
    coarse_factor: int
    shape: BreastShape


def draw_shape(rng: np.random.Generator, view: View) -> BreastShape:
    """Draw the anatomy parameters of one image."""
    mlo = view == View.MLO
    fat = rng.uniform(950.0, 1300.0)
    half_height = rng.uniform(0.34, 0.44)
    ripple = tuple(
        (float(k), float(rng.uniform(0.0, 0.05 / k)), float(rng.uniform(0, 2 * np.pi)))
        for k in (2, 3, 5)
    )
    return BreastShape(
        depth=rng.uniform(0.70, 0.90),
        center=rng.uniform(0.40, 0.50) if mlo else rng.uniform(0.46, 0.54),
        half_height_upper=rng.uniform(0.55, 0.70) if mlo else half_height,
        half_height_lower=rng.uniform(0.40, 0.47) if mlo else half_height * rng.uniform(0.92, 1.08),
        exponent_upper=rng.uniform(1.5, 1.9) if mlo else rng.uniform(2.0, 2.6),
        exponent_lower=rng.uniform(2.2, 2.8),
        ripple=ripple,
        falloff_mm=rng.uniform(10.0, 22.0),
        skin_mm=rng.uniform(1.2, 2.2),
        fat_level=fat,
        dense_level=fat + rng.uniform(1100.0, 1600.0),
        skin_level=rng.uniform(250.0, 450.0),
        density=rng.uniform(0.1, 0.7),
        pectoral_top=rng.uniform(0.22, 0.36) if mlo else 0.0,
        pectoral_height=rng.uniform(0.35, 0.55),
        pectoral_bulge=rng.uniform(0.7, 1.0),
        pectoral_level=fat + rng.uniform(1100.0, 1500.0),
    )


def breast_extent(shape: BreastShape, rows_frac: np.ndarray) -> np.ndarray:
    """Column extent of the breast (fraction of columns) for rows given as fractions of rows."""
    v = _vertical(shape, rows_frac)
    p = np.where(v < 0, shape.exponent_upper, shape.exponent_lower)
    inside = np.clip(1.0 - np.abs(v) ** p, 0.0, None) ** (1.0 / p)
    phase = (np.clip(v, -1, 1) + 1.0) * (np.pi / 2)
    ripple = sum(a * np.sin(k * phase + ph) for k, a, ph in shape.ripple)
    return shape.depth * inside * (1.0 + ripple)


def _vertical(shape: BreastShape, rows_frac: np.ndarray) -> np.ndarray:
    """Signed vertical position relative to the widest point, -1 and 1 at the breast's ends."""
    offset = rows_frac - shape.center
    return offset / np.where(offset < 0, shape.half_height_upper, shape.half_height_lower)


def pectoral_extent(shape: BreastShape, rows_frac: np.ndarray) -> np.ndarray:
    """Column extent (fraction of columns) of the pectoral muscle for each row; 0 below it."""
    if shape.pectoral_top <= 0:
        return np.zeros_like(rows_frac)
    s = np.clip(1.0 - rows_frac / shape.pectoral_height, 0.0, 1.0)
    return shape.pectoral_top * s**shape.pectoral_bulge


def power_law_texture(
    rng: np.random.Generator, shape: tuple[int, int], spacing_mm: float, beta: float
) -> np.ndarray:
    """Gaussian random field with a 1/f^beta power spectrum, zero mean, unit std (float32)."""
    white = rng.standard_normal(shape)
    spectrum = np.fft.rfft2(white)
    fy = np.fft.fftfreq(shape[0], d=spacing_mm)[:, None]
    fx = np.fft.rfftfreq(shape[1], d=spacing_mm)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    # below 1/50 cycles per mm the spectrum is flat: no structure is larger than a breast lobe
    spectrum *= np.maximum(f, 1.0 / 50.0) ** (-beta / 2.0)
    field = np.fft.irfft2(spectrum, s=shape)
    field -= field.mean()
    field /= field.std() + 1e-12
    return field.astype(np.float32)


def radial_texture(
    rng: np.random.Generator, shape: tuple[int, int], nipple_yx: tuple[float, float], beta: float
) -> np.ndarray:
    """Power-law field of strands converging on the nipple (ducts, ligaments); unit std, float32.

    Made on a polar grid around the nipple with structures stretched along the radius, then
    sampled bilinearly at every pixel of `shape` (coarse grid pixels).
    """
    ys = np.arange(shape[0], dtype=np.float32)[:, None] - nipple_yx[0]
    xs = nipple_yx[1] - np.arange(shape[1], dtype=np.float32)[None, :]
    radius = np.hypot(ys, xs)
    step = 2.0  # polar grid step in coarse pixels
    n_r = int(radius.max() / step) + 2
    n_phi = int(2 * np.pi * 0.4 * radius.max() / step) + 1
    polar = rng.standard_normal((n_r, n_phi))
    spectrum = np.fft.rfft2(polar)
    fr = np.fft.fftfreq(n_r)[:, None] * 4.0  # 4x longer along the radius than across
    fphi = np.fft.rfftfreq(n_phi)[None, :]
    f = np.sqrt(fr * fr + fphi * fphi)
    spectrum *= np.maximum(f, 1.0 / 120.0) ** (-beta / 2.0)
    field = np.fft.irfft2(spectrum, s=(n_r, n_phi))
    field = ((field - field.mean()) / (field.std() + 1e-12)).astype(np.float32)
    i = radius / step
    j = (np.arctan2(ys, xs) + np.pi) * (n_phi / (2 * np.pi))
    i0, j0 = np.floor(i).astype(np.intp), np.floor(j).astype(np.intp)
    wi, wj = i - i0, j - j0
    i1, j0, j1 = np.minimum(i0 + 1, n_r - 1), j0 % n_phi, (j0 + 1) % n_phi
    top = field[i0, j0] * (1 - wj) + field[i0, j1] * wj
    bottom = field[i1, j0] * (1 - wj) + field[i1, j1] * wj
    # strands crowd together near the nipple; fade them there (about 60 coarse pixels)
    fade = 1.0 - np.exp(-((radius / 60.0) ** 2))
    return ((top * (1 - wi) + bottom * wi) * fade).astype(np.float32)


def upsample(coarse: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Linear upsampling of a coarse grid (pixel i centred at full-res i*factor+(factor-1)/2)."""
    if factor == 1:
        return np.ascontiguousarray(coarse[: shape[0], : shape[1]], dtype=np.float32)
    image = sitk.GetImageFromArray(coarse.astype(np.float32, copy=False))
    image.SetSpacing((float(factor), float(factor)))
    image.SetOrigin(((factor - 1) / 2.0, (factor - 1) / 2.0))
    reference = sitk.Image(shape[1], shape[0], sitk.sitkFloat32)
    resampler = sitk.ResampleImageFilter()
    resampler.SetReferenceImage(reference)
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetUseNearestNeighborExtrapolator(True)
    return sitk.GetArrayFromImage(resampler.Execute(image))


def _coarse_fields(
    shape: BreastShape, rows: int, cols: int, factor: int, spacing_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Edge distance (mm) and fractional depth u = x / extent on the coarse grid."""
    ys = (np.arange(-(-rows // factor)) * factor + (factor - 1) / 2.0) / rows
    xs = (np.arange(-(-cols // factor)) * factor + (factor - 1) / 2.0)[None, :]
    extent_px = breast_extent(shape, ys) * cols
    slope = np.gradient(extent_px, ys * rows)
    cosine = 1.0 / np.sqrt(1.0 + slope * slope)
    distance_mm = ((extent_px[:, None] - xs) * cosine[:, None]) * spacing_mm
    depth = xs / np.maximum(extent_px[:, None], 1.0)
    return distance_mm.astype(np.float32), depth.astype(np.float32)


def _tissue_level(
    shape: BreastShape, view: View, texture: np.ndarray, distance_mm: np.ndarray, depth: np.ndarray
) -> np.ndarray:
    """Stored-value level above background of breast tissue on the coarse grid."""
    rows = texture.shape[0]
    v = _vertical(shape, (np.arange(rows, dtype=np.float32)[:, None] + 0.5) / rows)
    v_gland = -0.15 if view == View.MLO else 0.0
    envelope = np.exp(-(((depth - 0.42) / 0.33) ** 2) - ((v - v_gland) / 0.65) ** 2)
    drive = texture + 3.2 * (envelope - 1.0 + shape.density)
    density = 1.0 / (1.0 + np.exp(-drive / 0.8))
    level = shape.fat_level + (shape.dense_level - shape.fat_level) * density
    d = np.clip(distance_mm / shape.falloff_mm, 0.0, 1.0)
    thickness = np.sqrt(1.0 - (1.0 - d) ** 2)
    skin_arg = np.clip((distance_mm - shape.skin_mm) / 0.3, -30.0, 30.0)
    skin = shape.skin_level / (1.0 + np.exp(skin_arg))
    return (level * (0.32 + 0.68 * thickness) + skin).astype(np.float32)


def _pectoral_weight(shape: BreastShape, rows: int, cols: int, factor: int) -> np.ndarray:
    """Soft (about 1 coarse pixel) indicator of the pectoral muscle on the coarse grid."""
    ys = (np.arange(-(-rows // factor)) * factor + (factor - 1) / 2.0) / rows
    xs = (np.arange(-(-cols // factor)) * factor + (factor - 1) / 2.0)[None, :]
    extent = pectoral_extent(shape, ys)[:, None] * cols
    return np.clip((extent - xs) / factor + 0.5, 0.0, 1.0).astype(np.float32)


def make_anatomy(
    rng_anatomy: np.random.Generator,
    rng_noise: np.random.Generator,
    view: View,
    rows: int,
    cols: int,
    spacing_mm: float,
) -> Anatomy:
    """Build one lesion-free synthetic breast image in canonical orientation."""
    shape = draw_shape(rng_anatomy, view)
    factor = max(1, round(COARSE_SPACING_MM / spacing_mm))
    distance_mm, depth = _coarse_fields(shape, rows, cols, factor, spacing_mm)
    texture = power_law_texture(rng_anatomy, distance_mm.shape, spacing_mm * factor, TEXTURE_BETA)
    nipple = (shape.center * rows / factor, shape.depth * cols / factor)
    strands = radial_texture(rng_anatomy, distance_mm.shape, nipple, TEXTURE_BETA)
    texture = (0.8 * texture + 0.6 * strands) / 1.0
    level = _tissue_level(shape, view, texture, distance_mm, depth)
    if shape.pectoral_top > 0:
        muscle = shape.pectoral_level * (1.0 + 0.06 * texture)
        weight = _pectoral_weight(shape, rows, cols, factor)
        level += weight * (muscle - level)
    image = upsample(level, factor, (rows, cols))
    row_frac = (np.arange(rows, dtype=np.float64) + 0.5) / rows
    columns = np.arange(cols, dtype=np.float32)[None, :]
    breast = columns < (breast_extent(shape, row_frac) * cols)[:, None].astype(np.float32)
    pectoral = columns < (pectoral_extent(shape, row_frac) * cols)[:, None].astype(np.float32)
    pectoral &= breast
    _add_noise(image, breast, rng_noise, spacing_mm)
    return Anatomy(image, breast, pectoral, distance_mm, factor, shape)


def _add_noise(
    image: np.ndarray, breast: np.ndarray, rng: np.random.Generator, spacing_mm: float
) -> None:
    """In place: background outside the breast, signal-dependent quantum-like noise everywhere."""
    image[~breast] = 0.0
    scale = REFERENCE_SPACING_MM / spacing_mm  # coarser pixels collect more quanta
    sigma = np.sqrt(image, out=np.empty_like(image))
    sigma *= 0.9 * scale
    sigma += BACKGROUND_NOISE * scale
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    noise *= sigma
    image += noise
    image += BACKGROUND_LEVEL

"""Synthetic lesions: placement inside the breast, rendering, contrast measurement, masks.

Everything here works in canonical orientation (chest wall at column 0) on the float image of
`synthetic_anatomy`; `viewer.dicomio.synthetic` flips to the final laterality afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.dicomio.synthetic_anatomy import Anatomy, pectoral_extent
from viewer.dicomio.synthetic_types import Lesion, LesionKind

MASS_DIAMETER_MM = (5.0, 20.0)
MASS_Z = (0.8, 1.6)  # target contrast of a mass against its surrounding ring
CLUSTER_DIAMETER_MM = (5.0, 15.0)
SPECK_COUNT = (5, 30)
SPECK_DIAMETER_MM = (0.2, 0.6)
SPECK_Z = (3.0, 6.0)  # target peak contrast of one speck at full resolution
MARGIN_MM = 4.0  # every lesion keeps this distance from skin, pectoral and image edges
MASS_SHAPES = (("round", 0.3), ("oval", 0.35), ("irregular", 0.2), ("spiculated", 0.15))
OUTLINE_VERTICES = 72
COARSE_CONTRAST_MM = 0.56  # pixel size of the second contrast figure


@dataclass(frozen=True)
class Placement:
    center_yx: tuple[float, float]
    radius_px: float


def _candidates(anatomy: Anatomy, radius_px: float, spacing_mm: float) -> np.ndarray:
    """Full-res (y, x) centres of coarse pixels where a lesion of this radius fits."""
    rows, cols = anatomy.image.shape
    f = anatomy.coarse_factor
    need_mm = radius_px * spacing_mm + MARGIN_MM
    need_px = need_mm / spacing_mm
    ys = np.arange(anatomy.edge_distance_mm.shape[0]) * f + (f - 1) / 2.0
    xs = np.arange(anatomy.edge_distance_mm.shape[1]) * f + (f - 1) / 2.0
    ok = anatomy.edge_distance_mm >= need_mm
    ok &= ((ys >= need_px) & (ys <= rows - 1 - need_px))[:, None]
    ok &= (xs >= need_px)[None, :]
    pectoral_px = pectoral_extent(anatomy.shape, (ys + 0.5) / rows) * cols
    ok &= xs[None, :] - pectoral_px[:, None] >= need_px * 1.5
    iy, ix = np.nonzero(ok)
    return np.stack([ys[iy], xs[ix]], axis=1)


def place(
    rng: np.random.Generator,
    anatomy: Anatomy,
    radius_px: float,
    spacing_mm: float,
    taken: Sequence[Placement],
) -> Placement | None:
    """A random centre inside the breast, clear of earlier lesions; None when nothing fits."""
    candidates = _candidates(anatomy, radius_px, spacing_mm)
    for p in taken:
        d = np.hypot(candidates[:, 0] - p.center_yx[0], candidates[:, 1] - p.center_yx[1])
        candidates = candidates[d >= p.radius_px + radius_px + MARGIN_MM / spacing_mm]
    if len(candidates) == 0:
        return None
    y, x = candidates[rng.integers(len(candidates))]
    jitter = rng.uniform(-0.5, 0.5, 2) * anatomy.coarse_factor
    return Placement((float(y + jitter[0]), float(x + jitter[1])), radius_px)


def _box(center: tuple[float, float], reach: float, shape: tuple[int, ...]) -> tuple[slice, ...]:
    y, x = center
    return (
        slice(max(0, int(y - reach)), min(shape[0], int(y + reach) + 2)),
        slice(max(0, int(x - reach)), min(shape[1], int(x + reach) + 2)),
    )


def _grid(box: tuple[slice, ...], center: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    dy = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] - center[0]
    dx = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] - center[1]
    return dy, dx


def _ring_stats(
    image: np.ndarray, center: tuple[float, float], inner: float, outer: float, valid: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """Mean and std of the image on a ring around a point (only where `valid`)."""
    box = _box(center, outer, image.shape)
    dy, dx = _grid(box, center)
    r = np.hypot(dy, dx)
    ring = (r >= inner) & (r <= outer) & valid[box]
    values = image[box][ring]
    return float(values.mean()), float(values.std() + 1e-6), ring


def _radius_function(
    rng: np.random.Generator, shape: str
) -> tuple[tuple[float, float, float], ...]:
    """Harmonics (k, amplitude, phase) of r(theta) / R for a mass outline."""
    harmonics: list[tuple[float, float, float]] = []
    if shape in ("oval", "irregular", "spiculated"):
        harmonics.append((2.0, float(rng.uniform(0.12, 0.28)), float(rng.uniform(0, np.pi))))
    if shape in ("irregular", "spiculated"):
        for k in (3, 4, 5, 7):
            harmonics.append((float(k), float(rng.uniform(0.02, 0.07)), float(rng.uniform(0, 7))))
    elif shape == "round":
        harmonics.append((3.0, float(rng.uniform(0.0, 0.03)), float(rng.uniform(0, 7))))
    return tuple(harmonics)


def _relative_radius(
    theta: np.ndarray, harmonics: tuple[tuple[float, float, float], ...]
) -> np.ndarray:
    """r(theta) / R of a mass outline."""
    out = np.ones_like(theta)
    for k, a, ph in harmonics:
        out += a * np.cos(k * theta - ph)
    return out


@dataclass(frozen=True, eq=False)
class Rendered:
    """A lesion drawn into the image, with what is needed to measure its contrast later."""

    lesion: Lesion
    box: tuple[slice, ...]
    inside: np.ndarray  # bool on box: the pixels whose mean is the lesion's value
    ring: np.ndarray  # bool on box: the surrounding background
    block_inside_fraction: float  # an 8x8 block counts as lesion above this covered fraction


def _circle(center: tuple[float, float], radii: np.ndarray) -> tuple[tuple[float, float], ...]:
    theta = np.linspace(0.0, 2 * np.pi, len(radii), endpoint=False)
    ys = center[0] + radii * np.sin(theta)
    xs = center[1] + radii * np.cos(theta)
    return tuple((float(y), float(x)) for y, x in zip(ys, xs, strict=True))


def _choose_shape(rng: np.random.Generator) -> str:
    names = [n for n, _ in MASS_SHAPES]
    weights = np.array([w for _, w in MASS_SHAPES])
    return str(names[rng.choice(len(names), p=weights / weights.sum())])


def _spicules(
    rng: np.random.Generator, dy: np.ndarray, dx: np.ndarray, radius: float, spacing_mm: float
) -> np.ndarray:
    """Thin tapering lines radiating from a mass (relative intensity, 0..~0.6)."""
    out = np.zeros(np.broadcast_shapes(dy.shape, dx.shape), dtype=np.float32)
    for _ in range(int(rng.integers(8, 17))):
        angle = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.5, 1.1) * radius
        half_width = rng.uniform(0.12, 0.3) / spacing_mm
        along = dx * np.cos(angle) + dy * np.sin(angle) - 0.8 * radius
        across = -dx * np.sin(angle) + dy * np.cos(angle)
        taper = np.clip(1.0 - along / length, 0.0, 1.0) * (along > 0)
        out = np.maximum(out, 0.6 * taper * np.exp(-((across / half_width) ** 2)))
    return out


def _mass_profile(
    rng: np.random.Generator,
    shape: str,
    harmonics: tuple[tuple[float, float, float], ...],
    grid: tuple[np.ndarray, np.ndarray],
    radius: float,
    spacing_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Relative intensity of a mass (about 1 inside) and rn, the radius relative to the outline."""
    dy, dx = grid
    rn = np.hypot(dy, dx) / (radius * _relative_radius(np.arctan2(dy, dx), harmonics))
    blur_mm = 1.0 if shape in ("irregular", "spiculated") else 0.6  # indistinct vs circumscribed
    edge = max(0.02, blur_mm / spacing_mm / radius)
    profile = 1.0 / (1.0 + np.exp(np.clip((rn - 1.0) / edge, -30, 30)))
    profile *= 0.8 + 0.2 * np.clip(1.0 - rn * rn, 0.0, 1.0)
    if shape == "spiculated":
        profile = np.maximum(profile, _spicules(rng, dy, dx, radius, spacing_mm))
    return profile.astype(np.float32), rn


def render_mass(
    rng: np.random.Generator,
    image: np.ndarray,
    valid: np.ndarray,
    where: Placement,
    spacing_mm: float,
) -> Rendered:
    """Add a mass (round, oval, irregular or spiculated) to the float image, in place.

    The amplitude makes the mass's contrast z (see `Lesion`) about a value drawn from MASS_Z,
    whatever the tissue under it: a mass on dense tissue is no easier to see than one on fat.
    """
    shape = _choose_shape(rng)
    harmonics = _radius_function(rng, shape)
    radius = where.radius_px
    outline_r = radius * _relative_radius(
        np.linspace(0.0, 2 * np.pi, OUTLINE_VERTICES, endpoint=False), harmonics
    )
    r_max = float(outline_r.max())
    inner, outer = 1.5 * r_max, 2.5 * r_max
    ring_mean, ring_std, _ = _ring_stats(image, where.center_yx, inner, outer, valid)
    box = _box(where.center_yx, outer, image.shape)
    grid = _grid(box, where.center_yx)
    profile, rn = _mass_profile(rng, shape, harmonics, grid, radius, spacing_mm)
    inside = rn <= 1.0
    target = rng.uniform(*MASS_Z) * ring_std
    already = float(image[box][inside].mean()) - ring_mean
    amplitude = max(0.4 * target, target - already) / float(profile[inside].mean())
    image[box] += amplitude * profile * valid[box]  # spicules stop at the skin and the muscle
    outline = _circle(where.center_yx, outline_r)
    lesion = Lesion(
        LesionKind.MASS,
        where.center_yx,
        float(radius),
        outline,
        0.0,
        size_mm=float(2 * radius * spacing_mm),
        shape=shape,
    )
    r = np.hypot(*grid)
    return Rendered(lesion, box, inside, (r >= inner) & (r <= outer) & valid[box], 0.5)


def _speck_positions(rng: np.random.Generator, radius: float, min_gap: float) -> np.ndarray:
    count = int(rng.integers(SPECK_COUNT[0], SPECK_COUNT[1] + 1))
    points: list[tuple[float, float]] = []
    for _ in range(count * 40):
        if len(points) == count:
            break
        r = 0.85 * radius * rng.uniform() ** 0.6
        t = rng.uniform(0, 2 * np.pi)
        p = (r * np.sin(t), r * np.cos(t))
        if all(np.hypot(p[0] - q[0], p[1] - q[1]) >= min_gap for q in points):
            points.append(p)
    return np.array(points)


def _draw_speck(
    rng: np.random.Generator, image: np.ndarray, center: tuple[float, float], radius: float
) -> tuple[tuple[slice, ...], np.ndarray]:
    """Anti-aliased ellipse whose integral equals its area (sub-pixel specks stay faint)."""
    elongation = rng.uniform(1.0, 1.6)
    a, b = radius * elongation**0.5, radius / elongation**0.5
    angle = rng.uniform(0, np.pi)
    box = _box(center, a + 2, image.shape)
    dy, dx = _grid(box, center)
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    rn = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    cover = np.clip((1.0 - rn) * b + 0.5, 0.0, 1.0)
    cover *= np.pi * a * b / max(float(cover.sum()), 1e-6)
    return box, np.minimum(cover, 1.0)


def _draw_specks(
    rng: np.random.Generator,
    image: np.ndarray,
    box: tuple[slice, ...],
    where: Placement,
    spacing_mm: float,
    ring_std: float,
) -> tuple[np.ndarray, list[tuple[float, float]], list[float]]:
    """Draw the specks of a cluster in place; their pixels (on `box`), centres and diameters."""
    inside = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), dtype=bool)
    specks: list[tuple[float, float]] = []
    diameters: list[float] = []
    for oy, ox in _speck_positions(rng, where.radius_px, 0.5 / spacing_mm):
        diameter = float(rng.uniform(*SPECK_DIAMETER_MM))
        center = (where.center_yx[0] + float(oy), where.center_yx[1] + float(ox))
        speck_box, cover = _draw_speck(rng, image, center, diameter / 2 / spacing_mm)
        image[speck_box] += (rng.uniform(*SPECK_Z) * ring_std * cover).astype(np.float32)
        local = tuple(
            slice(s.start - b.start, s.stop - b.start) for s, b in zip(speck_box, box, strict=True)
        )
        inside[local] |= cover >= 0.5 if cover.max() >= 0.5 else cover == cover.max()
        specks.append(center)
        diameters.append(diameter)
    return inside, specks, diameters


def render_cluster(
    rng: np.random.Generator,
    image: np.ndarray,
    valid: np.ndarray,
    where: Placement,
    spacing_mm: float,
) -> Rendered:
    """Add a calcification cluster (5-30 bright specks of 0.2-0.6 mm) in place."""
    radius = where.radius_px
    inner, outer = 1.2 * radius, 2.2 * radius
    _, ring_std, _ = _ring_stats(image, where.center_yx, inner, outer, valid)
    box = _box(where.center_yx, outer, image.shape)
    inside, specks, diameters = _draw_specks(rng, image, box, where, spacing_mm, ring_std)
    r = np.hypot(*_grid(box, where.center_yx))
    lesion = Lesion(
        kind=LesionKind.CALCIFICATION_CLUSTER,
        center_yx=where.center_yx,
        radius_px=float(radius),
        outline_yx=_circle(where.center_yx, np.full(48, radius)),
        contrast=0.0,
        size_mm=float(2 * radius * spacing_mm),
        shape="cluster",
        specks_yx=tuple(specks),
        speck_diameters_mm=tuple(diameters),
    )
    return Rendered(lesion, box, inside, (r >= inner) & (r <= outer) & valid[box], 0.0)


def measure(rendered: Rendered, pixels: np.ndarray, spacing_mm: float) -> tuple[float, float]:
    """Contrast z at full resolution and at 0.56 mm pixels (an 8x downsample of 0.07 mm)."""
    values = pixels[rendered.box].astype(np.float64)
    ring = values[rendered.ring]
    z_full = (values[rendered.inside].mean() - ring.mean()) / (ring.std() + 1e-6)
    n = max(1, round(COARSE_CONTRAST_MM / spacing_mm))
    y0, x0 = rendered.box[0].start, rendered.box[1].start
    # align the blocks with the image's own n x n grid
    sy, sx = (-y0) % n, (-x0) % n
    ny, nx = (values.shape[0] - sy) // n, (values.shape[1] - sx) // n

    def blocks(a: np.ndarray) -> np.ndarray:
        a = a[sy : sy + n * ny, sx : sx + n * nx].astype(np.float64)
        return a.reshape(ny, n, nx, n).mean(axis=(1, 3))

    small = blocks(values)
    inside = blocks(rendered.inside) > rendered.block_inside_fraction
    ring_blocks = blocks(rendered.ring) >= 1.0
    if not inside.any() or ring_blocks.sum() < 3:
        inside = blocks(rendered.inside) > 0  # tiny lesion on a coarse grid
        ring_blocks = blocks(rendered.ring) > 0.5
    ring_small = small[ring_blocks]
    z_small = (small[inside].mean() - ring_small.mean()) / (ring_small.std() + 1e-6)
    return float(z_full), float(z_small)


def polygon_mask(outline_yx: Sequence[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixels whose centres lie inside a polygon (even-odd rule)."""
    mask = np.zeros(shape, dtype=bool)
    pts = np.asarray(outline_yx, dtype=np.float64)
    if len(pts) < 3:
        return mask
    y0 = max(0, int(np.floor(pts[:, 0].min())))
    y1 = min(shape[0], int(np.ceil(pts[:, 0].max())) + 1)
    x0 = max(0, int(np.floor(pts[:, 1].min())))
    x1 = min(shape[1], int(np.ceil(pts[:, 1].max())) + 1)
    if y1 <= y0 or x1 <= x0:
        return mask
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    a, b = pts, np.roll(pts, -1, axis=0)
    crosses = (a[:, 0] <= ys) != (b[:, 0] <= ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = a[:, 1] + (ys - a[:, 0]) * (b[:, 1] - a[:, 1]) / (b[:, 0] - a[:, 0])
    first = np.clip(np.ceil(x_cross) - x0, 0, x1 - x0).astype(np.intp)
    toggles = np.zeros((y1 - y0, x1 - x0 + 1), dtype=np.int32)
    rows = np.broadcast_to(np.arange(y1 - y0)[:, None], first.shape)
    np.add.at(toggles, (rows[crosses], first[crosses]), 1)
    mask[y0:y1, x0:x1] = (np.cumsum(toggles, axis=1)[:, :-1] % 2).astype(bool)
    return mask

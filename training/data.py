"""Training and held-out data from the synthetic generator, cached on disk per seed.

Each case is generated at full size, run through the runtime preprocessing (`training.prep`), and
reduced to what training needs: the global input, the lesion cover of every global CAM cell, and
a few full-resolution crops (around lesions, and of normal tissue) with their own cell cover.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.manifest import ModelManifest
from inference.preprocess import shrink_mean
from training import prep
from training.metrics import box_contains
from viewer.dicomio.synthetic_types import SyntheticMammogram

log = logging.getLogger(__name__)

STRIDE = 16
FULL_ROWS = 4096
FULL_COLS = 3328
FULL_SPACING_MM = 0.07
CACHE_VERSION = 1


@dataclass(frozen=True)
class CaseSpec:
    """What to generate for one seed: laterality, view and the lesion kinds ("" = none)."""

    seed: int
    laterality: str
    view: str
    kinds: tuple[str, ...]


def positive_weight(spec: CaseSpec, mass_weight: float) -> float:
    """How much likelier a case's positives are drawn: ``mass_weight`` for a mass case, else 1."""
    return mass_weight if "mass" in spec.kinds else 1.0


def cover_diameter_mm(cover: np.ndarray, cell_mm: float) -> float:
    """Equivalent-circle diameter (mm) of the lesion area in a global cell-cover map (cells of
    ``cell_mm``); 0 for no lesion or unknown cover (-1)."""
    area = float(np.clip(cover, 0.0, None).sum()) * cell_mm**2
    return 2.0 * float(np.sqrt(area / np.pi))


def case_spec(seed: int) -> CaseSpec:
    """Deterministic case of a seed: 1/3 normal, 1/3 mass, 1/3 calcification cluster."""
    rng = np.random.default_rng([seed, 7])
    choice = seed % 3
    kinds: tuple[str, ...] = ((), ("mass",), ("calcification_cluster",))[choice]
    return CaseSpec(seed, str(rng.choice(["L", "R"])), str(rng.choice(["CC", "MLO"])), kinds)


def generate(spec: CaseSpec, shape: tuple[int, int] | None = None) -> SyntheticMammogram:
    """The SyntheticMammogram of a case; a smaller ``shape`` is the same breast in miniature."""
    from viewer.dicomio.synthetic import LesionKind, generate_mammogram

    size = shape if shape is not None else (FULL_ROWS, FULL_COLS)
    spacing = FULL_SPACING_MM if shape is None else FULL_SPACING_MM * FULL_ROWS / shape[0]
    lesions = [LesionKind(k) for k in spec.kinds] if spec.kinds else "none"
    return generate_mammogram(
        spec.seed, laterality=spec.laterality, view=spec.view, shape=size,
        pixel_spacing_mm=spacing, lesions=lesions,
    )  # fmt: skip


def lesions_mask(m: SyntheticMammogram) -> np.ndarray:
    """Full-resolution mask of every lesion of a generated image (original orientation)."""
    from viewer.dicomio.synthetic import lesion_mask

    out = np.zeros(m.pixels.shape, bool)
    for lesion in m.lesions:
        out |= lesion_mask(m, lesion)
    return out


def _crop_box(center: tuple[float, float], size: int, shape: tuple[int, ...]) -> prep.Box:
    r0 = int(np.clip(round(center[0] - size / 2), 0, shape[0] - size))
    c0 = int(np.clip(round(center[1] - size / 2), 0, shape[1] - size))
    return (r0, c0, r0 + size, c0 + size)


def _crop_boxes(
    rng: np.random.Generator,
    centers: list[tuple[float, float]],
    mask: np.ndarray,
    density: np.ndarray,
    factor: int,
    image_hw: tuple[int, int],
    size: int,
    per_lesion: int,
    normals: int,
) -> list[tuple[prep.Box, int]]:
    """Boxes (canonical) with labels: jittered around each lesion centre, and normal tissue."""
    shape = image_hw
    out: list[tuple[prep.Box, int]] = []
    jitter = size / 2 - 24
    for cy, cx in centers:
        for _ in range(per_lesion):
            dy, dx = rng.uniform(-jitter, jitter, 2)
            box = _crop_box((cy + dy, cx + dx), size, shape)
            out.append((box, int(box_contains(box, (cy, cx)))))
    rows, cols = np.nonzero(mask)
    # Half of the normal crops come from the denser half of the breast (harder negatives).
    dense = density[rows, cols] >= np.median(density[rows, cols]) if len(rows) else rows
    tries = 0
    while sum(1 for _, y in out if y == 0) < normals and tries < 200 and len(rows):
        tries += 1
        pool = np.flatnonzero(dense) if tries % 2 and dense.any() else np.arange(len(rows))
        i = pool[rng.integers(len(pool))]
        box = _crop_box((rows[i] * factor + factor / 2, cols[i] * factor + factor / 2), size, shape)
        margin = size // 2
        far = all(
            not box_contains(
                (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin), c
            )
            for c in centers
        )
        if far:
            out.append((box, 0))
    return out


def build_case(
    spec: CaseSpec,
    manifest: ModelManifest,
    per_lesion: int,
    normals: int,
    shape: tuple[int, int] | None = None,
    global_stride: int = STRIDE,
) -> dict[str, np.ndarray]:
    """Generate one case and reduce it to arrays (see module docstring)."""

    m = generate(spec, shape)
    lesions = lesions_mask(m)
    return reduce_case(
        m.pixels.astype(np.float32),
        m.pixel_spacing_mm,
        m.laterality,
        Truth(bool(m.lesions), lesions, tuple(lesion.center_yx for lesion in m.lesions)),
        manifest,
        (per_lesion, normals, spec.seed),
        global_stride,
    )


@dataclass(frozen=True, eq=False)
class Truth:
    """Ground truth of one image: label, lesion mask (original orientation, or None when only
    the image label is known) and lesion centres (original (row, col))."""

    label: bool
    mask: np.ndarray | None
    centers: tuple[tuple[float, float], ...]


def reduce_case(
    values: np.ndarray,
    pixel_spacing_mm: float,
    laterality: str,
    truth: Truth,
    manifest: ModelManifest,
    crops_plan: tuple[int, int, int],
    global_stride: int = STRIDE,
) -> dict[str, np.ndarray]:
    """Runtime preprocessing of one image plus its labels: global input, cell cover, crops.

    The cell cover is on the global model's cam grid (``global_stride`` input pixels per cell);
    the crops' cover on the patch model's (always ``STRIDE``).

    ``crops_plan`` is (crops per lesion, normal crops, seed of the crop positions). Without a
    mask (label only), the cell cover is all -1 (ignored by the dense loss) and only the normal
    crops of a normal image are kept.
    """
    per_lesion, normals, seed = crops_plan
    p = prep.prepare(values, pixel_spacing_mm, laterality, manifest)
    t = p.transform
    centers = [prep.canonical_point(c, t) for c in truth.centers]
    small = shrink_mean(values, t.factor, t.flipped)
    rng = np.random.default_rng([seed, 11])
    boxes = _crop_boxes(
        rng, centers, p.mask, small, t.factor, t.image_hw, manifest.crop_size, per_lesion, normals
    )
    if truth.mask is None and truth.label:
        boxes = []
    cell = manifest.crop_size // STRIDE
    H, W = manifest.global_model.height_width
    if truth.mask is None:
        cover = np.full(
            (H // global_stride, W // global_stride), 0.0 if not truth.label else -1.0, np.float32
        )
        crop_cover = np.zeros((len(boxes), cell, cell), np.float32)
    else:
        cover = prep.global_cover(truth.mask, t, global_stride)
        crop_cover = np.stack(
            [prep.crop_cover(truth.mask, t, b, STRIDE) for b, _ in boxes]
        ).reshape(-1, cell, cell)
    C, S = len(manifest.channels), manifest.crop_size
    crops = prep.crops(p, [b for b, _ in boxes], manifest) if boxes else np.zeros((0, C, S, S))
    return {
        "global_input": p.global_input[0].astype(np.float16),
        "global_cover": cover,
        "label": np.array(int(truth.label)),
        "crops": crops.astype(np.float16),
        "crop_labels": np.array([y for _, y in boxes], np.int64),
        "crop_cover": crop_cover,
    }


@functools.cache
def preprocessing_fingerprint() -> str:
    """Fingerprint of the generator and the runtime preprocessing, from their OUTPUTS.

    A small fixed image is generated and prepared (global input and one crop) and the bytes are
    hashed: a numerical change anywhere invalidates the cache, a refactoring does not. Computed
    once per process, so data made by the code in memory is never filed under another key.
    """
    from inference.prepare import crop_batch, prepare_image
    from training.config import QUICK, draft_manifest
    from viewer.dicomio.synthetic import LesionKind, generate_mammogram

    manifest = draft_manifest(QUICK)
    m = generate_mammogram(
        3, "R", "MLO", (512, 416), pixel_spacing_mm=0.56, lesions=[LesionKind.MASS]
    )
    p = prepare_image(m.pixels.astype(np.float32), manifest, 0.56, "R")
    crop = crop_batch(p, [(200, 100, 264, 164)], manifest)
    digest = hashlib.sha256()
    for array in (m.pixels, p.global_input, crop):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def cache_key(
    manifest: ModelManifest,
    per_lesion: int,
    normals: int,
    shape: tuple[int, int] | None,
    global_stride: int = STRIDE,
) -> str:
    """Cache folder name: hash of the generator/preprocessing fingerprint and the data plan."""
    # The default stride adds nothing, so caches written before the stride existed stay valid.
    stride = [] if global_stride == STRIDE else [global_stride]
    inputs = json.dumps(
        [
            CACHE_VERSION,
            preprocessing_fingerprint(),
            shape,
            manifest.global_model.input_shape,
            manifest.crop_size,
            [dataclasses.asdict(c) for c in manifest.channels],
            dataclasses.asdict(manifest.normalization),
            per_lesion,
            normals,
            *stride,
        ],
        default=str,
    )
    return hashlib.sha256(inputs.encode()).hexdigest()[:16]


def cached_case(
    cache: Path,
    spec: CaseSpec,
    manifest: ModelManifest,
    per_lesion: int,
    normals: int,
    shape: tuple[int, int] | None = None,
    global_stride: int = STRIDE,
) -> dict[str, np.ndarray]:
    """``build_case`` through an on-disk cache keyed by seed, image shape, input geometry and
    the global cam grid."""
    key = cache_key(manifest, per_lesion, normals, shape, global_stride)
    return cached_arrays(
        cache / key / f"case_{spec.seed}.npz",
        lambda: build_case(spec, manifest, per_lesion, normals, shape, global_stride),
    )


def cached_arrays(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored at ``path`` (.npz), built and stored atomically on first use."""
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    tmp.replace(path)
    return arrays

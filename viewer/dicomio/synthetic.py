"""Synthetic mammograms with lesion ground truth, for the demo study and for training the AI.

The images are synthetic: no patient data was used. Everything is deterministic from the seed
(numpy Generator streams derived from seed, laterality and view; anatomy, noise and lesions draw
from separate streams, so the same seed with `lesions="none"` gives the same breast without them).

Orientation (the radiological hanging convention, DICOM PatientOrientation of the image): the
chest wall is on the image's LEFT for "L" views and on the image's RIGHT for "R" views, so the
breasts of a study hang back to back. Rows run from the patient's lateral side (CC) or superior
side (MLO) downwards: LCC "A\\R", RCC "P\\L", LMLO "A\\FR", RMLO "P\\FL". An MLO view has the
pectoral muscle as a bright triangle in its upper chest-wall corner.

Pixels: MONOCHROME2 (dense tissue bright), 12-bit stored values, background near 0 with a little
noise. Pixel spacing 0.07 mm by default; a smaller `shape` with a proportionally coarser spacing
(e.g. (512, 416) at 0.56 mm) gives the same anatomy in miniature, for quick tests.

Lesions (`lesions="random"`): 0, 1 or 2 lesions with probabilities RANDOM_LESION_COUNT_PROBABILITIES
(0.4, 0.4, 0.2); each is a mass with probability RANDOM_MASS_PROBABILITY (0.5), else a
calcification cluster. `lesions=[LesionKind.MASS, ...]` places exactly one lesion of each listed
kind; "none" places none. Masses are 5-20 mm (round, oval, irregular or spiculated), drawn so
that their contrast z against a surrounding ring is about 0.8-1.6 whatever the tissue under them
(measured median about 1.2: visible, not glaring). Calcification clusters hold 5-30 specks of
0.2-0.6 mm inside a 5-15 mm disk, each speck 3-6 ring standard deviations above its surroundings
at full resolution (measured cluster z about 3-5), and they nearly vanish on 0.56 mm pixels (an 8x
downsample: z about 0.7). The measured contrasts are stored in each `Lesion`. Every lesion lies at
least 4 mm inside the skin line, clear of the pectoral muscle and of the image edges.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from viewer.dicomio.synthetic_anatomy import STORED_MAX, Anatomy, make_anatomy
from viewer.dicomio.synthetic_lesions import (
    CLUSTER_DIAMETER_MM,
    MASS_DIAMETER_MM,
    Placement,
    Rendered,
    measure,
    place,
    polygon_mask,
    render_cluster,
    render_mass,
)
from viewer.dicomio.synthetic_types import (
    DemoStudy,
    Laterality,
    Lesion,
    LesionKind,
    SyntheticMammogram,
    SyntheticParameterError,
    View,
)

__all__ = [
    "GENERATOR_VERSION",
    "RANDOM_LESION_COUNT_PROBABILITIES",
    "RANDOM_MASS_PROBABILITY",
    "DemoStudy",
    "Laterality",
    "Lesion",
    "LesionKind",
    "SyntheticMammogram",
    "SyntheticParameterError",
    "View",
    "generate_mammogram",
    "generator_source_hash",
    "lesion_mask",
    "write_demo_study",
]

# Bumped whenever any synthetic_* module changes the generated pixels or truth, so that a cache
# keyed on this file's bytes (or on this value) is invalidated.
GENERATOR_VERSION = "2026.11.22-5"
RANDOM_LESION_COUNT_PROBABILITIES = (0.4, 0.4, 0.2)  # P(0), P(1), P(2) lesions
RANDOM_MASS_PROBABILITY = 0.5
LesionSpec = Literal["random", "none"] | Sequence[LesionKind | str]
_PLACEMENT_TRIES = 6


def _validated(
    seed: int, laterality: str, view: str, shape: tuple[int, ...], spacing: float
) -> tuple[Laterality, View]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SyntheticParameterError("seed", seed, "a non-negative integer")
    if laterality not in tuple(Laterality):
        raise SyntheticParameterError("laterality", laterality, "'L' or 'R'")
    if view not in tuple(View):
        raise SyntheticParameterError("view", view, "'CC' or 'MLO'")
    if len(shape) != 2 or min(shape) < 64 or max(shape) > 16384:
        raise SyntheticParameterError("shape", shape, "(rows, cols), each 64..16384")
    if not 0.01 <= spacing <= 2.0:
        raise SyntheticParameterError("pixel_spacing_mm", spacing, "0.01..2.0 mm")
    return Laterality(laterality), View(view)


def _lesion_kinds(rng: np.random.Generator, lesions: LesionSpec) -> list[LesionKind]:
    if isinstance(lesions, str):
        if lesions == "none":
            return []
        if lesions != "random":
            raise SyntheticParameterError("lesions", lesions, "'random', 'none' or LesionKinds")
        count = int(rng.choice(3, p=RANDOM_LESION_COUNT_PROBABILITIES))
        return [
            LesionKind.MASS
            if rng.uniform() < RANDOM_MASS_PROBABILITY
            else LesionKind.CALCIFICATION_CLUSTER
            for _ in range(count)
        ]
    try:
        return [LesionKind(k) for k in lesions]
    except ValueError as exc:
        raise SyntheticParameterError("lesions", lesions, "items of LesionKind") from exc


def _add_lesion(
    rng: np.random.Generator,
    kind: LesionKind,
    image: np.ndarray,
    valid: np.ndarray,
    anatomy: Anatomy,
    spacing: float,
    taken: list[Placement],
    forced: bool,
) -> Rendered | None:
    span = MASS_DIAMETER_MM if kind == LesionKind.MASS else CLUSTER_DIAMETER_MM
    diameter = rng.uniform(*span)
    for _ in range(_PLACEMENT_TRIES):
        where = place(rng, anatomy, diameter / 2 / spacing, spacing, taken)
        if where is not None:
            taken.append(where)
            render = render_mass if kind == LesionKind.MASS else render_cluster
            return render(rng, image, valid, where, spacing)
        diameter = max(span[0], diameter * 0.7)
    if forced:
        raise SyntheticParameterError("lesions", kind.value, "room for it inside this breast")
    return None


def generate_mammogram(
    seed: int,
    laterality: str = "L",
    view: str = "CC",
    shape: tuple[int, int] = (4096, 3328),
    pixel_spacing_mm: float = 0.07,
    lesions: LesionSpec = "random",
) -> SyntheticMammogram:
    """Generate one synthetic mammogram with lesion ground truth (see the module docstring).

    Raises SyntheticParameterError for an invalid argument, naming it.
    """
    lat, vw = _validated(seed, laterality, view, tuple(shape), float(pixel_spacing_mm))
    rows, cols = int(shape[0]), int(shape[1])
    streams = np.random.SeedSequence([int(seed), ord(lat.value), 1 + list(View).index(vw)])
    rng_anatomy, rng_noise, rng_lesions = (np.random.default_rng(s) for s in streams.spawn(3))
    kinds = _lesion_kinds(rng_lesions, lesions)
    anatomy = make_anatomy(rng_anatomy, rng_noise, vw, rows, cols, float(pixel_spacing_mm))
    image = anatomy.image
    valid = anatomy.breast_mask & ~anatomy.pectoral_mask
    taken: list[Placement] = []
    forced = not isinstance(lesions, str)
    spacing = float(pixel_spacing_mm)
    rendered = [
        _add_lesion(rng_lesions, kind, image, valid, anatomy, spacing, taken, forced)
        for kind in kinds
    ]
    pixels = np.clip(np.rint(image, out=image), 0, STORED_MAX).astype(np.uint16)
    truth = tuple(_measured(r, pixels, spacing) for r in rendered if r is not None)
    canonical = SyntheticMammogram(
        pixels,
        lat.value,
        vw.value,
        spacing,
        truth,
        anatomy.breast_mask,
        int(seed),
        anatomy.pectoral_mask,
    )
    return _mirrored(canonical) if lat == Laterality.RIGHT else canonical


def _measured(rendered: Rendered, pixels: np.ndarray, spacing_mm: float) -> Lesion:
    z_full, z_8x = measure(rendered, pixels, spacing_mm)
    return dataclasses.replace(rendered.lesion, contrast=z_full, contrast_8x=z_8x)


def _mirrored(mammogram: SyntheticMammogram) -> SyntheticMammogram:
    """Left-right mirror image of a mammogram and its truth (chest wall to the other side)."""
    cols = mammogram.pixels.shape[1]

    def mirror(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array[:, ::-1])

    pectoral = mammogram.pectoral_mask
    return dataclasses.replace(
        mammogram,
        pixels=mirror(mammogram.pixels),
        breast_mask=mirror(mammogram.breast_mask),
        pectoral_mask=None if pectoral is None else mirror(pectoral),
        lesions=tuple(_mirrored_lesion(lesion, cols) for lesion in mammogram.lesions),
    )


def _mirrored_lesion(lesion: Lesion, cols: int) -> Lesion:
    def flip(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        return tuple((y, cols - 1 - x) for y, x in points)

    return dataclasses.replace(
        lesion,
        center_yx=(lesion.center_yx[0], cols - 1 - lesion.center_yx[1]),
        outline_yx=flip(lesion.outline_yx),
        specks_yx=flip(lesion.specks_yx),
    )


def generator_source_hash() -> str:
    """sha256 over the sources of every synthetic_* module: changes with any generator edit."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("synthetic*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def lesion_mask(mammogram: SyntheticMammogram, lesion: Lesion | None = None) -> np.ndarray:
    """Full-resolution boolean mask of one lesion's outline, or of all lesions when None.

    A mass is its outline polygon; a calcification cluster is its disk-shaped cluster region.
    """
    shape = mammogram.pixels.shape
    if lesion is not None:
        return polygon_mask(lesion.outline_yx, shape)
    mask = np.zeros(shape, dtype=bool)
    for each in mammogram.lesions:
        mask |= polygon_mask(each.outline_yx, shape)
    return mask


def write_demo_study(folder: Path, seed: int = 2026) -> DemoStudy:
    """Write the four-view demo study; see `viewer.dicomio.synthetic_study`."""
    from viewer.dicomio.synthetic_study import write_demo_study as write

    return write(folder, seed)

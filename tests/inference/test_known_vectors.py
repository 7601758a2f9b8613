"""Pinned preprocessing outputs: an accidental change of the model inputs fails here.

The bundled model was trained on these definitions (MODEL_FORMAT.md); a deliberate change of the
preprocessing must update these numbers AND retrain the bundled model.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference.manifest import manifest_from_dict
from inference.prepare import crop_batch, prepare_image
from tests.inference.testmodels import mammogram, manifest_dict

HP = [{"kind": "intensity"}, {"kind": "highpass_max", "sigma_mm": 0.5, "scale": 2.0}]

# laterality: (value_range, intensity sum, highpass sum, highpass max, crop sums, mask pixels)
PINNED = {
    "L": (
        (984.0657397460938, 1561.0330224609377),
        7226.250044870778,
        3716.3324373253126,
        2.2840776443481445,
        (3158.1133050322533, 930.6418340735836),
        26449,
    ),
    "R": (
        (984.7000390625, 1562.7093554687501),
        7184.0853140123345,
        3709.0717760959487,
        2.2593014240264893,
        (3151.466173350811, 925.4009660386873),
        26449,
    ),
}


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_preprocessing_outputs_are_pinned(laterality: str) -> None:
    manifest = manifest_from_dict(manifest_dict((256, 208), 64, HP))
    values = mammogram(laterality, "MLO", (1024, 832), (400, 300 if laterality == "L" else 531), 11)
    values[600:602, 200:202] += 300
    prep = prepare_image(values, manifest, 0.07, laterality)
    crops = crop_batch(prep, [(368, 268, 432, 332)], manifest).astype(np.float64)
    grid = prep.global_input.astype(np.float64)
    value_range, intensity, highpass, peak, crop_sums, mask_pixels = PINNED[laterality]
    assert prep.value_range == pytest.approx(value_range, rel=1e-6)
    assert grid[0, 0].sum() == pytest.approx(intensity, rel=1e-5)
    assert grid[0, 1].sum() == pytest.approx(highpass, rel=1e-5)
    assert grid[0, 1].max() == pytest.approx(peak, rel=1e-5)
    assert (crops[0, 0].sum(), crops[0, 1].sum()) == pytest.approx(crop_sums, rel=1e-5)
    assert int(prep.mask.sum()) == mask_pixels

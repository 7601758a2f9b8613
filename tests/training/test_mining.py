"""Mined crops: the runtime's region choice on a regenerated image, labelled by lesion centres."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inference.preprocess import GridTransform  # noqa: E402
from training import config as cfg  # noqa: E402
from training import data, mining  # noqa: E402
from training.models import CamClassifier  # noqa: E402

pytestmark = pytest.mark.train


class _PeakAt(CamClassifier):
    """A global model whose CAM peaks at one original-image point (after the canonical flip)."""

    def __init__(self, point_yx: tuple[float, float], t: GridTransform) -> None:
        super().__init__(2, widths=cfg.QUICK.widths)
        self.point = point_yx
        self.t = t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = x.shape[-2] // 16, x.shape[-1] // 16
        y, xc = self.point
        if self.t.flipped:
            xc = self.t.image_hw[1] - 1 - xc
        rows = (torch.arange(h) + 0.5) * self.t.grid_hw[0] / h * self.t.scale_rc[0]
        cols = (torch.arange(w) + 0.5) * self.t.grid_hw[1] / w * self.t.scale_rc[1]
        cam = -((rows[:, None] - y) ** 2 + (cols[None, :] - xc) ** 2)
        return cam.max().reshape(1, 1), cam[None, None]


@pytest.mark.parametrize("seed", [1, 4, 7])  # mass cases (seed % 3 == 1), various lateralities
def test_the_crop_on_the_lesion_is_positive_and_covered(tmp_path: Path, seed: int) -> None:
    spec = data.case_spec(seed)
    manifest = cfg.draft_manifest(cfg.QUICK)
    m = data.generate(spec, cfg.QUICK.image_shape)
    from training import prep

    p = prep.prepare(m.pixels.astype(np.float32), m.pixel_spacing_mm, m.laterality, manifest)
    lesion = m.lesions[0].center_yx
    model = _PeakAt(lesion, p.transform).eval()
    case = mining.mined_case(tmp_path, model, spec, manifest, 3, cfg.QUICK.image_shape)
    assert case["crops"].shape[1:] == (2, manifest.crop_size, manifest.crop_size)
    assert case["crop_labels"][0] == 1  # the top crop is centred on the lesion
    assert case["crop_cover"][0].max() > 0.5  # and its cells are covered by the lesion mask
    negatives = case["crop_labels"] == 0
    # a kept negative never touches the lesion; crops touching it off-centre were dropped
    assert not (case["crop_cover"][negatives] > 0).any()
    assert len(case["crop_labels"]) + int(case["dropped"]) == 3
    again = mining.mined_case(tmp_path, model, spec, manifest, 3, cfg.QUICK.image_shape)
    assert np.array_equal(again["crops"], case["crops"])  # from the cache
    assert len(list(tmp_path.glob("mined*/case_*.npz"))) == 1


def test_parallel_mining_equals_serial_mining(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = CamClassifier(2, widths=cfg.QUICK.widths).eval()
    manifest = cfg.draft_manifest(cfg.QUICK)
    seeds = [3, 4, 5]  # normal, mass, cluster
    args = (seeds, manifest, 2, cfg.QUICK.image_shape, 2.0)
    serial = mining.mined_set(tmp_path / "a", model, *args, workers=1)
    parallel = mining.mined_set(tmp_path / "b", model, *args, workers=2)
    assert np.array_equal(serial.inputs, parallel.inputs)
    assert np.array_equal(serial.labels, parallel.labels)
    assert np.array_equal(serial.cell_targets, parallel.cell_targets)
    assert serial.positive_weights is not None and parallel.positive_weights is not None
    assert np.array_equal(serial.positive_weights, parallel.positive_weights)
    # seed 4 is the mass case: its crops carry the mass weight
    assert set(serial.positive_weights.tolist()) <= {1.0, 2.0}
    assert 2.0 in serial.positive_weights.tolist()


def test_mining_refuses_a_model_in_training_mode(tmp_path: Path) -> None:
    model = CamClassifier(2, widths=cfg.QUICK.widths)  # nn.Module starts in training mode
    with pytest.raises(ValueError, match="eval mode"):
        mining.mine_case(model, data.case_spec(3), cfg.draft_manifest(cfg.QUICK), 2, (1024, 832))

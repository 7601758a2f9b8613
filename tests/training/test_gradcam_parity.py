"""Runtime Grad-CAM (ONNX "cam" output) equals pytorch-grad-cam on the same weights and input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_grad_cam")

import onnxruntime as ort  # noqa: E402
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

from inference.gradcam import gradcam_map  # noqa: E402
from inference.manifest import CamPooling  # noqa: E402
from training.export import export_model  # noqa: E402
from training.models import CamClassifier, LogitOnly  # noqa: E402

pytestmark = pytest.mark.train

BUNDLED = Path(__file__).resolve().parents[2] / "resources" / "models" / "mammolens-gmic-synthetic"


def _reference_maps(model: CamClassifier, x: torch.Tensor) -> np.ndarray:
    wrapped = LogitOnly(model).eval()
    with GradCAM(model=wrapped, target_layers=[model.target_layer]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(0)] * x.shape[0])


def _runtime_maps(onnx_path: Path, input_name: str, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (cams,) = session.run(["cam"], {input_name: x.numpy()})
    out_hw = (int(x.shape[2]), int(x.shape[3]))
    return np.stack([gradcam_map(cams[i, 0], out_hw) for i in range(cams.shape[0])])


def _random_model(
    seed: int, pooling: CamPooling, dilations: tuple[int, int] = (1, 1), stride: int = 16
) -> CamClassifier:
    torch.manual_seed(seed)
    model = CamClassifier(in_channels=2, pooling=pooling, dilations=dilations, stride=stride)
    # Random BN statistics so that eval-mode normalization is not the identity.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    # A head with both signs, centred so that the CAM has positive and negative regions.
    with torch.no_grad():
        model.cam_head.weight.normal_()
        model.cam_head.weight -= model.cam_head.weight.mean()
    return model.eval()


@pytest.mark.parametrize("pooling", list(CamPooling))
def test_patch_model_gradcam_matches_pytorch_grad_cam(tmp_path: Path, pooling: CamPooling) -> None:
    model = _random_model(1, pooling)
    x = torch.randn(3, 2, 256, 256, generator=torch.Generator().manual_seed(2))
    export_model(model, tmp_path / "patch.onnx", "crop", x[:1], dynamic_batch=True)
    reference = _reference_maps(model, x)
    runtime = _runtime_maps(tmp_path / "patch.onnx", "crop", x)
    assert reference.shape == runtime.shape == (3, 256, 256)
    assert reference.max() > 0.99  # a non-trivial map, not all zero
    assert np.abs(reference - runtime).max() <= 1e-4


@pytest.mark.parametrize(
    ("dilations", "stride"), [((1, 1), 16), ((2, 4), 16), ((1, 1), 8), ((2, 4), 4)]
)
def test_global_model_gradcam_matches_pytorch_grad_cam(
    tmp_path: Path, dilations: tuple[int, int], stride: int
) -> None:
    model = _random_model(3, CamPooling.TOPK_MEAN, dilations, stride)
    x = torch.randn(1, 2, 320, 256, generator=torch.Generator().manual_seed(4))
    export_model(model, tmp_path / "global.onnx", "image", x, dynamic_batch=False)
    reference = _reference_maps(model, x)
    runtime = _runtime_maps(tmp_path / "global.onnx", "image", x)
    assert reference.max() > 0.99
    assert np.abs(reference - runtime).max() <= 1e-4


def test_dilations_widen_the_receptive_field_at_the_same_stride() -> None:
    """One input pixel changes CAM cells over a span that grows with the dilations."""

    def span(dilations: tuple[int, int]) -> int:
        model = _random_model(5, CamPooling.TOPK_MEAN, dilations)
        x = torch.zeros(1, 2, 512, 512, requires_grad=True)
        _, cam = model(x)
        assert cam.shape[-2:] == (32, 32)  # stride 16 either way
        cam[0, 0, 16, 16].backward()
        assert x.grad is not None
        cols = torch.nonzero(x.grad[0].abs().sum(dim=(0, 1)) > 0)
        return int(cols.max() - cols.min() + 1)

    assert span((1, 1)) <= 119
    assert span((2, 4)) > 200


def _cams_and_shifted(
    seed: int, shift: int, coarse: CamClassifier, *models: CamClassifier
) -> list[torch.Tensor]:
    """The cams of ``coarse`` and ``models`` on a random 512 x 448 input, then the cam of
    ``coarse`` on that input shifted up and left by ``shift`` pixels (zeros shifted in)."""
    x = torch.randn(1, 2, 512, 448, generator=torch.Generator().manual_seed(seed))
    shifted = torch.zeros_like(x)
    shifted[..., :-shift, :-shift] = x[..., shift:, shift:]
    with torch.no_grad():
        return [m(x)[1] for m in (coarse, *models)] + [coarse(shifted)[1]]


def test_densify_reads_the_same_network_on_a_twice_finer_grid() -> None:
    """Stride 8 by shift and stitch: the even cells are the stride-16 cells, the odd ones what
    the stride-16 network gives on the input shifted by 8 pixels (away from the zero border)."""
    from training.models import densify

    coarse = _random_model(6, CamPooling.TOPK_MEAN)
    dense = densify(coarse)
    assert dense.backbone.stride == 8 and dense.top_k == 4 * coarse.top_k
    cam, cam_dense, cam_shifted = _cams_and_shifted(7, 8, coarse, dense)
    assert cam.shape[-2:] == (32, 28) and cam_dense.shape[-2:] == (64, 56)
    assert torch.allclose(cam_dense[..., ::2, ::2], cam, atol=1e-5)
    odd = cam_dense[0, 0, 1::2, 1::2]
    inner = (slice(8, -8), slice(8, -8))  # the receptive field reaches the zero border
    assert torch.allclose(odd[inner], cam_shifted[0, 0][inner], atol=1e-5)
    assert cam.std() > 0.01  # a non-trivial map
    assert (odd[inner] - cam[0, 0][inner]).abs().max() > 0.01  # the new cells add information
    with pytest.raises(ValueError, match="stride 8"):
        densify(dense)


@pytest.mark.parametrize("source_stride", [16, 8])
def test_densify_to_stride_4_keeps_the_coarser_cells(source_stride: int) -> None:
    """Stride 4 (from the stride-16 weights directly or from their stride-8 copy): every
    (16 / 4)-th cell is the stride-16 cell, every second one the stride-8 cell, and the cells at
    (1, 1) mod 4 are the stride-16 network on the input shifted by 4 pixels (inner cells)."""
    from training.models import densify

    coarse = _random_model(6, CamPooling.TOPK_MEAN)
    source = coarse if source_stride == 16 else densify(coarse)
    fine = densify(source, stride=4)
    assert fine.backbone.stride == 4 and fine.top_k == 16 * coarse.top_k
    cam, cam8, cam4, cam_shifted = _cams_and_shifted(8, 4, coarse, densify(coarse), fine)
    assert cam4.shape[-2:] == (128, 112)
    assert torch.allclose(cam4[..., ::4, ::4], cam, atol=1e-5)
    assert torch.allclose(cam4[..., ::2, ::2], cam8, atol=1e-5)
    quarter = cam4[0, 0, 1::4, 1::4]
    inner = (slice(8, -8), slice(8, -8))
    assert torch.allclose(quarter[inner], cam_shifted[0, 0][inner], atol=1e-5)
    assert (quarter[inner] - cam[0, 0][inner]).abs().max() > 0.01
    with pytest.raises(ValueError, match="stride 4"):
        densify(fine, stride=4)

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


def _random_model(seed: int, pooling: CamPooling) -> CamClassifier:
    torch.manual_seed(seed)
    model = CamClassifier(in_channels=2, pooling=pooling)
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


def test_global_model_gradcam_matches_pytorch_grad_cam(tmp_path: Path) -> None:
    model = _random_model(3, CamPooling.TOPK_MEAN)
    x = torch.randn(1, 2, 320, 256, generator=torch.Generator().manual_seed(4))
    export_model(model, tmp_path / "global.onnx", "image", x, dynamic_batch=False)
    reference = _reference_maps(model, x)
    runtime = _runtime_maps(tmp_path / "global.onnx", "image", x)
    assert reference.max() > 0.99
    assert np.abs(reference - runtime).max() <= 1e-4

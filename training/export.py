"""ONNX export of a CamClassifier, verified against torch with onnxruntime."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from training.models import CamClassifier

OPSET = 17
LOGIT = "logit"
CAM = "cam"


class ExportMismatchError(RuntimeError):
    """The exported ONNX graph does not reproduce the torch model within tolerance."""


def export_model(
    model: CamClassifier,
    path: Path,
    input_name: str,
    example: torch.Tensor,
    dynamic_batch: bool,
) -> None:
    """Export ``model`` (eval mode) to ``path`` with outputs "logit" and "cam", then verify it.

    ``example`` fixes C, H and W; with ``dynamic_batch`` the batch axis is symbolic ("batch").
    Raises ExportMismatchError when onnxruntime differs from torch by more than 1e-4.
    """
    model = model.eval()
    axes = None
    if dynamic_batch:
        axes = {input_name: {0: "batch"}, LOGIT: {0: "batch"}, CAM: {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[input_name],
            output_names=[LOGIT, CAM],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    check = torch.cat([example, example.flip(-1)]) if dynamic_batch else example
    verify_export(model, path, input_name, check)


def verify_export(
    model: CamClassifier, path: Path, input_name: str, x: torch.Tensor, atol: float = 1e-4
) -> float:
    """Largest absolute difference of logit and cam between torch and onnxruntime on ``x``."""
    with torch.no_grad():
        logit, cam = (t.numpy() for t in model.eval()(x))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    o_logit, o_cam = session.run([LOGIT, CAM], {input_name: x.numpy().astype(np.float32)})
    worst = max(float(np.abs(o_logit - logit).max()), float(np.abs(o_cam - cam).max()))
    if worst > atol:
        raise ExportMismatchError(
            f"{path}: outputs differ from torch by {worst:.3g}, expected at most {atol}"
        )
    return worst


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

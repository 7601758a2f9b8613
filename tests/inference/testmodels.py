"""Small two-stage test models built with onnx.helper (no torch), matching MODEL_FORMAT.md.

cam = Conv(x, box kernel k x k on channel 0, stride k, no bias) - offset: a bright blob gives the
highest cam cell where it is. logit = mean(cam) + bias (global) / max(cam) + bias (patch).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def cam_graph(
    name: str,
    input_name: str,
    shape: list[int | str],
    stride: int,
    offset: float,
    pool: str = "ReduceMean",
    bias: float = 0.0,
) -> onnx.ModelProto:
    """A model with outputs logit [N, 1] and cam [N, 1, h, w] as the contract asks."""
    channels = int(shape[1])
    kernel = np.zeros((1, channels, stride, stride), np.float32)
    kernel[0, 0] = 1.0 / (stride * stride)
    nodes = [
        helper.make_node("Conv", [input_name, "W"], ["feat"], strides=[stride, stride]),
        helper.make_node("Sub", ["feat", "offset"], ["cam"]),
        helper.make_node(pool, ["cam"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Add", ["pooled", "bias"], ["logit"]),
    ]
    inits = [
        numpy_helper.from_array(kernel, "W"),
        numpy_helper.from_array(np.array(offset, np.float32), "offset"),
        numpy_helper.from_array(np.array(bias, np.float32), "bias"),
    ]
    batch = shape[0]
    h, w = int(shape[2]) // stride, int(shape[3]) // stride
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)],
        [
            helper.make_tensor_value_info("logit", TensorProto.FLOAT, [batch, 1]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, [batch, 1, h, w]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    return model


def manifest_dict(
    grid: tuple[int, int], crop: int, channels: list[dict[str, Any]], patch_name: str = "crop"
) -> dict[str, Any]:
    """A complete manifest (sha256 filled in by write_model)."""
    n = len(channels)
    return {
        "schema_version": 1,
        "name": "test-model",
        "version": "0.0.1",
        "global": {
            "file": "global.onnx",
            "sha256": "",
            "input_name": "image",
            "input_shape": [1, n, grid[0], grid[1]],
            "output_names": {"logit": "logit", "cam": "cam"},
            "cam_pooling": "avg",
            "cam_target_layer": "features",
        },
        "patch": {
            "file": "patch.onnx",
            "sha256": "",
            "input_name": patch_name,
            "input_shape": ["K", n, crop, crop],
            "cam_pooling": "max",
            "cam_target_layer": "features",
        },
        "pixel_spacing_mm": 0.07,
        "channels": channels,
        "normalization": {
            "method": "breast_percentile",
            "low_percentile": 1,
            "high_percentile": 99,
        },
        "class_names": ["malignant"],
        "score_activation": "sigmoid",
        "fusion": {"global_weight": 0.5, "crop_aggregation": "max"},
        "operating_points": [
            {"name": "default", "threshold": 0.5, "sensitivity": 0.9, "specificity": 0.8}
        ],
        "intended_use": "tests only",
        "training_data": "none",
        "metrics": {"auc": 0.5},
        "not_for_clinical_use": True,
    }


def write_model(
    folder: Path,
    grid: tuple[int, int] = (256, 208),
    crop: int = 64,
    channels: list[dict[str, Any]] | None = None,
    global_offset: float = 0.6,
    stride: int = 4,
) -> Path:
    """Write manifest.json + global.onnx + patch.onnx into `folder`; returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    channels = channels or [{"kind": "intensity"}]
    manifest = manifest_dict(grid, crop, channels)
    n = len(channels)
    models = {
        "global": cam_graph("global", "image", [1, n, *grid], stride, global_offset),
        "patch": cam_graph("patch", "crop", ["K", n, crop, crop], stride, 0.6, "ReduceMax"),
    }
    for key, model in models.items():
        path = folder / manifest[key]["file"]
        onnx.save(model, str(path))
        manifest[key]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def rewrite_manifest(folder: Path, **changes: Any) -> None:
    """Apply dotted-key changes ("global.sha256") to a written manifest."""
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        keys = dotted.split(".")
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    path.write_text(json.dumps(data))


def rehash(folder: Path, key: str) -> None:
    """Store the current sha256 of a stage's file in the manifest."""
    data = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256((folder / data[key]["file"]).read_bytes()).hexdigest()
    rewrite_manifest(folder, **{f"{key}.sha256": digest})


def mammogram(
    laterality: str = "L",
    view: str = "CC",
    shape: tuple[int, int] = (1024, 832),
    lesion_rc: tuple[int, int] | None = (400, 300),
    seed: int = 0,
    label: bool = True,
) -> np.ndarray:
    """A crude float32 mammogram in original orientation: chest wall left for L, right for R.

    Background ~60, breast ~1000-1400 (half ellipse on the chest wall), an optional bright lesion
    (radius 14 px) at `lesion_rc` given in original coordinates, an MLO pectoral triangle, and a
    burned-in label (value 4095) in the top corner away from the chest wall.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cw = c if laterality == "L" else (cols - 1 - c)
    inside = ((r - rows / 2) / (rows * 0.45)) ** 2 + (cw / (cols * 0.7)) ** 2 < 1
    image = 60 + rng.normal(0, 5, shape).astype(np.float32)
    tissue = 1000 + 400 * np.exp(-(((r - rows / 2) / (rows * 0.2)) ** 2)) * (cw < cols * 0.4)
    image[inside] = tissue[inside] + rng.normal(0, 20, int(inside.sum()))
    if view == "MLO":
        pectoral = cw < (cols * 0.25) * (1 - r / (rows * 0.5))
        image[pectoral & inside] += 300
    if lesion_rc is not None:
        blob = (r - lesion_rc[0]) ** 2 + (c - lesion_rc[1]) ** 2 < 14**2
        image[blob] += 900
    if label:
        lc = slice(cols - 120, cols - 20) if laterality == "L" else slice(20, 120)
        image[20:60, lc] = 4095
    return image.astype(np.float32)

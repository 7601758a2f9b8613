"""MammoLens AI engine: ONNX Runtime sessions, model manifests, the two-stage pipeline, Grad-CAM.

Imports numpy, onnxruntime and SimpleITK only; nothing of the viewer, no Qt, no pydicom, no torch.
The model format is specified in MODEL_FORMAT.md beside this file.
"""

from inference.analyzer import Analyzer, app_version
from inference.errors import (
    AnalysisCancelledError,
    DeviceError,
    InferenceError,
    InputImageError,
    ModelError,
)
from inference.fusion import ExamScores, fuse_views
from inference.gradcam import gradcam_map
from inference.manifest import ModelManifest
from inference.result import CropFinding, Heatmap, Provenance, Result, Stage
from inference.session import Device, load_manifest, load_model

__all__ = [
    "AnalysisCancelledError",
    "Analyzer",
    "CropFinding",
    "Device",
    "DeviceError",
    "ExamScores",
    "Heatmap",
    "InferenceError",
    "InputImageError",
    "ModelError",
    "ModelManifest",
    "Provenance",
    "Result",
    "Stage",
    "app_version",
    "fuse_views",
    "gradcam_map",
    "load_manifest",
    "load_model",
]

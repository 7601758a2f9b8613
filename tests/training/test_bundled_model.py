"""The bundled model: manifest, size, known-output vectors, Grad-CAM parity of the real weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from inference import Analyzer, ModelManifest, load_manifest
from inference.gradcam import gradcam_map
from inference.prepare import crop_batch, prepare_image
from viewer.dicomio.synthetic import LesionKind, generate_mammogram

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "resources" / "models" / "mammolens-gmic-synthetic"
CHECKPOINTS = ROOT / "training" / "checkpoints"

# Scores of the bundled models on two fixed synthetic images (written from a run of this file's
# `_vector` on the committed ONNX files; CPU execution provider). A change of preprocessing,
# region selection, fusion or weights moves them (and so does a change of the generator's output
# for these seeds: re-pin then, after checking that the change was intended).
PINNED = {
    "mass_LCC_seed_4242": {
        "global_logit": 10.97315788269043,
        "fused_score": 0.9963148859507266,
        "crop_logits": [
            4.205859184265137,
            -1.584787368774414,
            1.988325595855713,
            4.025327205657959,
            2.185598373413086,
            0.4817146956920624,
        ],
    },
    "normal_RMLO_seed_4243": {
        "global_logit": -0.407659113407135,
        "fused_score": 0.4780300425814353,
        "crop_logits": [
            -2.0405375957489014,
            -0.6611745953559875,
            -0.7742388844490051,
            -0.8194719552993774,
            0.9134200811386108,
            -2.016188383102417,
        ],
    },
}

CASES = {
    "mass_LCC_seed_4242": (4242, "L", "CC", [LesionKind.MASS]),
    "normal_RMLO_seed_4243": (4243, "R", "MLO", "none"),
}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(BUNDLED, device="cpu", top_k=6)


def _vector(analyzer: Analyzer, name: str) -> dict[str, object]:
    seed, laterality, view, lesions = CASES[name]
    m = generate_mammogram(seed, laterality, view, lesions=lesions)
    result = analyzer.analyze(
        m.pixels.astype(np.float32),
        pixel_spacing_mm=m.pixel_spacing_mm,
        laterality=laterality,
        view=view,
    )
    return {
        "global_logit": result.global_logit,
        "fused_score": result.fused_score,
        "crop_logits": [c.logit for c in result.crops],
    }


def test_bundled_manifest_describes_a_synthetic_research_model() -> None:
    manifest = load_manifest(BUNDLED)  # checks the sha256 of both files
    assert manifest.name == "mammolens-gmic-synthetic"
    assert "NOT FOR CLINICAL USE" in manifest.intended_use
    assert "no real patient images" in manifest.training_data
    assert manifest.metrics["held_out_images"] >= 100
    for kind in ("mass", "calcification_cluster"):
        for key in ("image_auc", "top_k_crop_recall", "pointing_game"):
            assert 0.0 <= manifest.metrics[kind][key] <= 1.0
    assert manifest.operating_points
    size = sum(
        (BUNDLED / s.file).stat().st_size for s in (manifest.global_model, manifest.patch_model)
    )
    assert size < 20 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(CASES))
def test_known_output_vectors(analyzer: Analyzer, name: str) -> None:
    got = _vector(analyzer, name)
    want = PINNED[name]
    assert got["global_logit"] == pytest.approx(want["global_logit"], abs=1e-5)
    assert got["fused_score"] == pytest.approx(want["fused_score"], abs=1e-5)
    assert np.allclose(got["crop_logits"], want["crop_logits"], atol=1e-5, rtol=0)


def _stage_inputs(manifest: ModelManifest) -> dict[str, np.ndarray]:
    """The global input of a fixed image and a full-resolution crop on its mass."""
    m = generate_mammogram(4242, "L", "CC", lesions=[LesionKind.MASS])
    prep = prepare_image(m.pixels.astype(np.float32), manifest, m.pixel_spacing_mm, "L")
    size = manifest.crop_size
    rows, cols = m.pixels.shape
    r0 = int(np.clip(m.lesions[0].center_yx[0] - size // 2, 0, rows - size))
    c0 = int(np.clip(m.lesions[0].center_yx[1] - size // 2, 0, cols - size))
    crop = crop_batch(prep, [(r0, c0, r0 + size, c0 + size)], manifest)
    return {"global": prep.global_input, "patch": crop}


@pytest.mark.parametrize("stage", ["global", "patch"])
def test_bundled_models_gradcam_equals_pytorch_grad_cam(analyzer: Analyzer, stage: str) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from training.config import FULL
    from training.models import CamClassifier, LogitOnly
    from training.pipeline import load_weights, saved_stride

    manifest = analyzer.manifest
    spec = manifest.global_model if stage == "global" else manifest.patch_model
    x = _stage_inputs(manifest)[stage]
    model = CamClassifier(
        len(manifest.channels),
        top_k=int(spec.cam_pooling_k or 1),
        widths=FULL.widths,
        dilations=FULL.dilations,
        stride=saved_stride(CHECKPOINTS / f"{stage}.npz"),
    )
    load_weights(CHECKPOINTS / f"{stage}.npz", model)
    with GradCAM(model=LogitOnly(model), target_layers=[model.target_layer]) as cam:
        reference = cam(input_tensor=torch.from_numpy(x), targets=[ClassifierOutputTarget(0)])
    session = ort.InferenceSession(str(BUNDLED / spec.file), providers=["CPUExecutionProvider"])
    (cams,) = session.run([spec.output_names.cam], {spec.input_name: x})
    runtime = gradcam_map(cams[0, 0], x.shape[2:])
    assert reference[0].max() > 0.99  # the map has positive evidence
    assert np.abs(reference[0] - runtime).max() <= 1e-4

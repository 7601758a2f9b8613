"""The bundled model: manifest, size, known-output vectors, Grad-CAM parity of the real weights."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from numpy._core import _multiarray_umath

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
#
# The images must be the same on every CPU. numpy's vectorized math (exp, log, ...) gives
# results that differ in the last bit between CPU feature levels, and that changes a few
# generated pixels by one unit (4 pixels of seed 4242 between AVX2 and the x86-64-v2 baseline
# here); with the percentile normalization that moved the crop logits by up to 5e-4 between the
# machine that wrote the earlier pins and an AMD EPYC (AVX2) one, which failed them. So the
# images are generated in a child process with numpy's optimized paths off
# (NPY_DISABLE_CPU_FEATURES: the baseline code, the same on every x86-64 CPU), and their
# sha256 is pinned too (a numpy release may change its baseline: re-pin then). Scores in
# [0, 1] are compared to 1e-5; logits to 1e-5 relative or absolute, whichever is larger
# (onnxruntime's kernels differ in the last float32 bits between CPU families, and a
# logit of 11 has only about 1e-6 relative precision to spare).
# Every dispatch target of this numpy (numpy 2.4, x86-64: X86_V3 X86_V4 AVX512_ICL AVX512_SPR).
BASELINE_SIMD = {"NPY_DISABLE_CPU_FEATURES": " ".join(_multiarray_umath.__cpu_dispatch__)}
PIXELS_SHA256 = {
    "mass_LCC_seed_4242": "d78c25f4f510133d6b0d816dbfefc638dce06548fd17825b0eaf8658657928a5",
    "normal_RMLO_seed_4243": "6a4d7ee0130360ef2ae32b38a2f87d6568aaceb1af8870d4758df51dbdce02c4",
}
PINNED = {
    "mass_LCC_seed_4242": {
        "global_logit": 12.05887508392334,
        "fused_score": 0.9987913698467465,
        "crop_logits": [
            5.330745697021484,
            -2.06033992767334,
            4.458982467651367,
            3.226144313812256,
            -1.5149284601211548,
            -1.7390220165252686,
        ],
    },
    "normal_RMLO_seed_4243": {
        "global_logit": -1.21450674533844,
        "fused_score": 0.2645248214228751,
        "crop_logits": [
            -1.0593938827514648,
            -0.7815278768539429,
            -1.4784847497940063,
            -0.5262777209281921,
            -1.4291387796401978,
            -2.2700910568237305,
        ],
    },
}

CASES = {
    "mass_LCC_seed_4242": (4242, "L", "CC", [LesionKind.MASS]),
    "normal_RMLO_seed_4243": (4243, "R", "MLO", "none"),
}


_GENERATE = """
import sys
from pathlib import Path

import numpy as np

from viewer.dicomio.synthetic import LesionKind, generate_mammogram

out = Path(sys.argv[1])
for name, (seed, laterality, view, lesions) in {cases}.items():
    kinds = lesions if lesions == "none" else [LesionKind(k) for k in lesions]
    m = generate_mammogram(seed, laterality, view, lesions=kinds)
    np.save(out / (name + ".npy"), m.pixels)
    (out / (name + ".mm")).write_text(repr(m.pixel_spacing_mm))
"""


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(BUNDLED, device="cpu", top_k=6)


@pytest.fixture(scope="module")
def fixed_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, float]]:
    """The CASES images, generated with numpy's baseline code (see BASELINE_SIMD)."""
    out = tmp_path_factory.mktemp("fixed-images")
    cases = {
        name: (seed, lat, view, lesions if lesions == "none" else [k.value for k in lesions])
        for name, (seed, lat, view, lesions) in CASES.items()
    }
    subprocess.run(
        [sys.executable, "-c", _GENERATE.format(cases=repr(cases)), str(out)],
        env={**os.environ, **BASELINE_SIMD},
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    return {
        name: (np.load(out / f"{name}.npy"), float((out / f"{name}.mm").read_text()))
        for name in CASES
    }


def _vector(analyzer: Analyzer, name: str, image: tuple[np.ndarray, float]) -> dict[str, object]:
    _, laterality, view, _ = CASES[name]
    pixels, spacing = image
    result = analyzer.analyze(
        pixels.astype(np.float32), pixel_spacing_mm=spacing, laterality=laterality, view=view
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
def test_known_output_vectors(
    analyzer: Analyzer, fixed_images: dict[str, tuple[np.ndarray, float]], name: str
) -> None:
    pixels = fixed_images[name][0]
    digest = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()
    assert digest == PIXELS_SHA256[name], (
        f"{name}: the generated image differs from the pinned one (sha256 {digest}): the "
        "generator changed, or numpy's baseline math differs on this CPU"
    )
    got = _vector(analyzer, name, fixed_images[name])
    want = PINNED[name]
    assert got["global_logit"] == pytest.approx(want["global_logit"], rel=1e-5, abs=1e-5)
    assert got["fused_score"] == pytest.approx(want["fused_score"], abs=1e-5)
    assert np.allclose(got["crop_logits"], want["crop_logits"], atol=1e-5, rtol=1e-5)


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

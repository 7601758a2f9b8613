"""Smoke run of `python -m training train --quick`: a few steps on tiny synthetic images."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import onnxruntime as ort  # noqa: E402

from inference import Analyzer, Result, load_manifest  # noqa: E402
from training import config as cfg  # noqa: E402
from training import data  # noqa: E402
from training.cli import main  # noqa: E402
from training.models import CamClassifier  # noqa: E402
from training.pipeline import load_weights  # noqa: E402
from training.provenance import expand  # noqa: E402

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quick")
    argv = ["train", "--out", str(root / "model"), "--quick", "--cache", str(root / "cache")]
    assert main([*argv, "--threads", "1"]) == 0
    return root / "model"


def test_quick_training_writes_a_loadable_model(quick_model: Path) -> None:
    manifest = load_manifest(quick_model)  # checks both sha256 and the schema
    for stage in (manifest.global_model, manifest.patch_model):
        digest = hashlib.sha256((quick_model / stage.file).read_bytes()).hexdigest()
        assert digest == stage.sha256
    assert manifest.name == cfg.MODEL_NAME
    assert "NOT FOR CLINICAL USE" in manifest.intended_use
    assert "no real patient images" in manifest.training_data
    assert {"image_auc", "crop_auc", "mass", "calcification_cluster"} <= set(manifest.metrics)
    assert manifest.metrics["held_out_images"] == cfg.QUICK.n_held_out
    assert len(manifest.operating_points) == 2
    log = json.loads((quick_model / "torch" / "training_log.json").read_text())
    assert log["train_images"] == cfg.QUICK.n_train
    # the last patch stage ran on the global model's own crops of the first training images
    assert len(log["patch_mined_loss_per_epoch"]) == 1
    # the global model's false-positive stage ran on windows around its own peaks
    assert len(log["global_hard_loss_per_epoch"]) == 1 and log["global_hard_peaks"] > 0
    mined = list((quick_model.parent / "cache").glob("mined*/case_*.npz"))
    assert len(mined) == cfg.QUICK.mined_images


def _analyze_quick(folder: Path) -> Result:
    """The Analyzer's result for one QUICK-sized synthetic image, top 3 crops."""
    m = data.generate(data.case_spec(1), cfg.QUICK.image_shape)
    return Analyzer(folder, device="cpu", top_k=3).analyze(
        m.pixels.astype(np.float32),
        pixel_spacing_mm=m.pixel_spacing_mm,
        laterality=m.laterality,
        view=m.view,
    )


def test_quick_model_runs_in_the_analyzer(quick_model: Path) -> None:
    result = _analyze_quick(quick_model)
    assert 0.0 <= result.fused_score <= 1.0
    assert 1 <= len(result.crops) <= 3
    assert all(c.box[2] - c.box[0] == cfg.QUICK.crop_size for c in result.crops)


def test_saved_torch_weights_reproduce_the_onnx_outputs(quick_model: Path) -> None:
    manifest = load_manifest(quick_model)
    C = len(manifest.channels)
    S = manifest.crop_size
    model = CamClassifier(C, top_k=cfg.QUICK.patch_top_k, widths=cfg.QUICK.widths)
    load_weights(quick_model / "torch" / "patch.npz", model)
    x = torch.rand(3, C, S, S, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        logit, cam = model(x)
    session = ort.InferenceSession(
        str(quick_model / "patch.onnx"), providers=["CPUExecutionProvider"]
    )
    o_logit, o_cam = session.run(["logit", "cam"], {"crop": x.numpy()})
    assert np.abs(o_logit - logit.numpy()).max() <= 1e-4
    assert np.abs(o_cam - cam.numpy()).max() <= 1e-4


def test_average_of_runs_writes_a_measured_model(quick_model: Path, tmp_path: Path) -> None:
    weights = quick_model / "torch"
    other = tmp_path / "other"  # a second run: run one's weights with the CAM head moved by 1
    other.mkdir()
    (other / "training_log.json").write_text((weights / "training_log.json").read_text())
    with np.load(weights / "global.npz") as g:
        arrays = {k: g[k] for k in g.files}
    arrays["cam_head.weight"] = arrays["cam_head.weight"] + 1.0
    np.savez(other / "global.npz", **arrays)
    np.savez(other / "patch.npz", **{k: v * 0 for k, v in np.load(weights / "patch.npz").items()})
    out = tmp_path / "avg"
    argv = ["average", "--out", str(out), "--quick", "--weights", str(weights), str(other)]
    argv += ["--data-seed", "1"]  # BatchNorm re-estimated on other images than the run's own
    assert main([*argv, "--cache", str(quick_model.parent / "cache"), "--threads", "1"]) == 0
    manifest = load_manifest(out)  # both sha256 and the schema
    assert {"image_auc", "mass", "validation"} <= set(manifest.metrics)
    assert "no real patient images" in manifest.training_data
    assert "mean of 2 runs" in manifest.training_data
    n_bn = cfg.QUICK.n_train  # QUICK's 6 training images: every one of them (steps of 1)
    assert f"re-estimated on {n_bn} training images (seeds 110000-110005 in steps of 1)" in (
        manifest.training_data
    )
    log = json.loads((out / "torch" / "training_log.json").read_text())
    assert len(log["averaged_global_models"]) == 2
    # both runs carry the same earlier log: it is stored once, the repeat points at it
    assert log["averaged_global_models"][1] == {"same_as": "/averaged_global_models/0"}
    assert expand(log)["averaged_global_models"][1] == json.loads(
        (weights / "training_log.json").read_text()
    )
    assert manifest.metrics["training"] == log
    assert log["averaged_global_models"][0]["train_images"] == cfg.QUICK.n_train
    # the patch model is the first run's, unchanged
    before = np.load(weights / "patch.npz")
    after = np.load(out / "torch" / "patch.npz")
    assert all(np.array_equal(before[k], after[k]) for k in before.files)
    # the weights are the mean of both runs; the BatchNorm statistics are re-estimated
    g0, g1 = np.load(weights / "global.npz"), np.load(out / "torch" / "global.npz")
    assert np.allclose(g1["cam_head.weight"], g0["cam_head.weight"] + 0.5, atol=1e-6)
    assert np.array_equal(g0["backbone.body.0.weight"], g1["backbone.body.0.weight"])
    assert not np.array_equal(
        g0["backbone.body.1.running_mean"], g1["backbone.body.1.running_mean"]
    )


def test_average_refuses_to_overwrite_a_run_or_use_held_out_images(
    quick_model: Path, tmp_path: Path
) -> None:
    weights = quick_model / "torch"
    argv = ["average", "--out", str(tmp_path / "avg"), "--quick", "--weights", str(weights)]
    argv += ["--cache", str(quick_model.parent / "cache"), "--threads", "1"]
    with pytest.raises(ValueError, match="is one of the averaged runs"):
        main([*argv, "--weights-dir", str(weights)])
    with pytest.raises(ValueError, match="overlap the validation seeds"):
        main([*argv, "--data-seed", "70"])  # 100000 + 70 * 10000 = the validation range


def test_resumed_global_stage_on_several_data_seeds(quick_model: Path, tmp_path: Path) -> None:
    """`--data-seed 1 2`: one training set of both seeds' images; with no patch stage the patch
    model is kept exactly and the cases' crops are never held. The dense stage's options
    (ranking term, peak targets, small masses) come from the command line."""
    weights = quick_model / "torch"
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--quick", "--resume", str(weights)]
    argv += ["--data-seed", "1", "2", "--patch-minutes", "0", "--hard-minutes", "0"]
    argv += ["--mined-minutes", "0", "--cache", str(quick_model.parent / "cache"), "--threads", "1"]
    argv += ["--global-rank-weight", "0.5", "--global-peak-targets", "--small-masses", "10", "3"]
    assert main(argv) == 0
    log = json.loads((out / "torch" / "training_log.json").read_text())
    assert log["train_images"] == 2 * cfg.QUICK.n_train
    # run 14's recipe from the command line reached the stage that trained, and the log says so
    assert log["global_stage"]["rank_weight"] == 0.5 and log["global_stage"]["peak_targets"]
    assert (log["small_mass_mm"], log["small_mass_weight"]) == (10, 3)
    assert log["train_crops"] == 0
    assert log["train_seeds"] == ["110000-110005", "120000-120005"]
    assert len(log["global_loss_per_epoch"]) == 1 and log["patch_loss_per_epoch"] == []
    manifest = load_manifest(out)
    assert "training seeds 110000-110005 and 120000-120005 (12 images" in manifest.training_data
    before, after = np.load(weights / "patch.npz"), np.load(out / "torch" / "patch.npz")
    assert all(np.array_equal(before[k], after[k]) for k in before.files)
    g0, g1 = np.load(weights / "global.npz"), np.load(out / "torch" / "global.npz")
    assert not np.array_equal(g0["cam_head.weight"], g1["cam_head.weight"])


def test_densify_and_train_on_the_finer_global_grid(quick_model: Path, tmp_path: Path) -> None:
    """`densify` reads a run's global model on the stride-8 grid without training (its even
    cells are the run's cells); `train --global-stride 8 --resume` then trains that grid on
    stride-8 lesion covers. Both export, measure and run in the Analyzer."""
    from training.pipeline import saved_stride

    weights = quick_model / "torch"
    dense = tmp_path / "dense"
    argv = ["densify", "--out", str(dense), "--quick", "--weights", str(weights)]
    assert main([*argv, "--threads", "1"]) == 0
    manifest = load_manifest(dense)
    assert manifest.global_model.cam_pooling_k == 4 * cfg.QUICK.global_top_k
    assert saved_stride(dense / "torch" / "global.npz") == 8
    assert saved_stride(dense / "torch" / "patch.npz") == 16
    assert "image_auc" in manifest.metrics and "densified_from" in manifest.metrics["training"]
    x = np.random.default_rng(0).random((1, 2, *manifest.global_model.height_width), np.float32)
    cams = []
    for folder in (quick_model, dense):
        session = ort.InferenceSession(str(folder / "global.onnx"))
        cams.append(session.run(["cam"], {"image": x})[0][0, 0])
    h, w = manifest.global_model.height_width
    assert cams[0].shape == (h // 16, w // 16) and cams[1].shape == (h // 8, w // 8)
    assert np.allclose(cams[1][::2, ::2], cams[0], atol=1e-5)

    trained = tmp_path / "trained"
    argv = ["train", "--out", str(trained), "--quick", "--resume", str(weights)]
    argv += ["--global-stride", "8", "--patch-minutes", "0", "--hard-minutes", "0"]
    argv += ["--mined-minutes", "0", "--cache", str(quick_model.parent / "cache"), "--threads", "1"]
    assert main(argv) == 0
    log = json.loads((trained / "torch" / "training_log.json").read_text())
    assert log["architecture"]["global_stride"] == 8
    assert log["global_stage"]["window_cells"] == [16, 12]  # QUICK's (8, 6) at half the cell size
    assert len(log["global_loss_per_epoch"]) == 1
    assert saved_stride(trained / "torch" / "global.npz") == 8
    cache = (quick_model.parent / "cache").glob("*/case_100000.npz")
    covers = [p for p in cache if not p.parent.name.startswith("mined")]
    shapes = {np.load(p)["global_cover"].shape for p in covers}
    assert shapes == {(h // 16, w // 16), (h // 8, w // 8)}  # one cache per grid
    result = _analyze_quick(trained)
    assert 1 <= len(result.crops) <= 3 and 0.0 <= result.fused_score <= 1.0


def test_stride_8_runs_average_and_refuse_a_mismatched_resume(
    quick_model: Path, tmp_path: Path
) -> None:
    """`average` builds the finest of the sources' strides (here a stride-8 model and the
    stride-16 run it was read from, read on the stride-8 grid); `densify --stride 4`
    reads a stride-8 run on the stride-4 grid; a stride-16 run that resumes a stride-8 model is
    refused before any data is loaded."""
    from training.mining import weights_digest
    from training.models import densify
    from training.pipeline import saved_stride

    dense = tmp_path / "dense"
    argv = ["densify", "--out", str(dense), "--quick", "--weights", str(quick_model / "torch")]
    assert main([*argv, "--threads", "1"]) == 0
    mean = tmp_path / "mean"
    argv = ["average", "--out", str(mean), "--quick", "--weights", str(dense / "torch")]
    argv += [
        str(quick_model / "torch"),
        "--cache",
        str(quick_model.parent / "cache"),
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    assert saved_stride(mean / "torch" / "global.npz") == 8
    assert load_manifest(mean).global_model.cam_pooling_k == 4 * cfg.QUICK.global_top_k
    # A stride-8 run read on the stride-4 grid: its cells are every second stride-4 cell.
    fine = tmp_path / "fine"
    argv = ["densify", "--out", str(fine), "--quick", "--weights", str(dense / "torch")]
    assert main([*argv, "--stride", "4", "--threads", "1"]) == 0
    assert saved_stride(fine / "torch" / "global.npz") == 4
    manifest = load_manifest(fine)
    assert manifest.global_model.cam_pooling_k == 16 * cfg.QUICK.global_top_k
    assert "(stride 8 -> 4," in manifest.training_data
    x = np.random.default_rng(1).random((1, 2, *manifest.global_model.height_width), np.float32)
    cam8, cam4 = (
        ort.InferenceSession(str(folder / "global.onnx")).run(["cam"], {"image": x})[0][0, 0]
        for folder in (dense, fine)
    )
    h, w = manifest.global_model.height_width
    assert cam4.shape == (h // 4, w // 4) and np.allclose(cam4[::2, ::2], cam8, atol=1e-5)
    argv = ["train", "--out", str(tmp_path / "x"), "--quick", "--resume", str(dense / "torch")]
    with pytest.raises(ValueError, match="stride 8, the run has 16; pass --global-stride 8"):
        main([*argv, "--cache", str(tmp_path / "empty-cache"), "--threads", "1"])
    assert not (tmp_path / "empty-cache").exists()  # refused before any data was made
    coarse = CamClassifier(2, widths=cfg.QUICK.widths).eval()
    assert weights_digest(coarse) != weights_digest(densify(coarse))  # mined caches differ

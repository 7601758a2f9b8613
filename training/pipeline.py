"""`python -m training train`: data, patch pre-training, global training, export, manifest."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference.manifest import ModelManifest, StageSpec
from training import data
from training.config import RunConfig
from training.export import export_model, sha256_of
from training.loop import Batchable, crop_set, hard_cells, recalibrate_batchnorm, train_stage
from training.mining import mined_set
from training.models import CamClassifier, count_parameters, densify

log = logging.getLogger(__name__)


def global_cell_mm(config: RunConfig) -> float:
    """Side of one global CAM cell in mm (the generator's images fill the global input)."""
    rows = (config.image_shape or (data.FULL_ROWS, data.FULL_COLS))[0]
    return config.pixel_spacing_mm * rows / config.global_hw[0] * config.global_stride


def new_model(config: RunConfig, channels: int, top_k: int, stride: int = 16) -> CamClassifier:
    """An untrained CamClassifier of the run's architecture (widths, dilations)."""
    return CamClassifier(
        channels, top_k=top_k, widths=config.widths, dilations=config.dilations, stride=stride
    )


def load_cases(
    seeds: Sequence[int],
    config: RunConfig,
    manifest: ModelManifest,
    cache: Path,
    keep_crops: bool = True,
) -> list[dict[str, np.ndarray]]:
    """Cached arrays of every seed's case (generated on first use); without ``keep_crops`` each
    case's crops are dropped as it loads (for runs that do not train the patch model)."""
    out = []
    small = 0
    start = time.monotonic()
    log.info("data cache key source hash %s", data.preprocessing_fingerprint()[:16])
    for i, seed in enumerate(seeds):
        spec = data.case_spec(seed)
        case = data.cached_case(
            cache,
            spec,
            manifest,
            config.crops_per_lesion,
            config.normal_crops,
            config.image_shape,
            config.global_stride,
        )
        weight = data.positive_weight(spec, config.mass_weight)
        if "mass" in spec.kinds and config.small_mass_mm > 0:
            size = data.cover_diameter_mm(case["global_cover"], global_cell_mm(config))
            if 0 < size < config.small_mass_mm:
                weight *= config.small_mass_weight
                small += 1
        case["positive_weight"] = np.array(weight, np.float32)
        if not keep_crops:  # a copy: an empty view would keep the whole array alive
            for key in ("crops", "crop_labels", "crop_cover"):
                case[key] = case[key][:0].copy()
        out.append(case)
        if (i + 1) % 10 == 0 or i + 1 == len(seeds):
            log.info("data %d/%d cases (%.0f s)", i + 1, len(seeds), time.monotonic() - start)
    if config.small_mass_mm > 0:
        log.info("%d mass cases under %g mm weighted x%g", small, config.small_mass_mm,
                 config.small_mass_weight)  # fmt: skip
    return out


def stack_sets(cases: list[dict[str, np.ndarray]]) -> tuple[Batchable, Batchable]:
    """(global set, patch set) from case arrays.

    A case's optional ``positive_weight`` (set by `load_cases` from its lesion kind) weights the
    drawing of its image and of its lesion crops as positives."""
    weights = [float(c.get("positive_weight", 1.0)) for c in cases]
    global_set = Batchable(
        np.stack([c["global_input"] for c in cases]),
        np.array([float(c["label"]) for c in cases], np.float32),
        np.stack([c["global_cover"] for c in cases]),
        np.array(weights, np.float32),
    )
    return global_set, crop_set(cases, weights)


@dataclass(frozen=True)
class Mining:
    """Where mined crops come from: the training seeds (regenerated) and the cache."""

    seeds: Sequence[int]
    manifest: ModelManifest
    cache: Path
    workers: int = 1


def train_models(
    config: RunConfig,
    cases: list[dict[str, np.ndarray]],
    seed: int,
    resume: Path | None = None,
    mining: Mining | None = None,
) -> tuple[CamClassifier, CamClassifier, dict[str, object]]:
    """Patch model first, then the global model initialized from the patch backbone, then (with
    ``config.global_hard``) the global model fine-tuned on windows around its own false-positive
    peaks, then (with ``mining`` and ``config.patch_mined``) the patch model fine-tuned on its
    own crops plus the global model's top-K crops of ``config.mined_images`` training images.

    With ``resume`` (a weights folder of an earlier run) both models continue from their own
    saved weights instead (a warm restart of the schedule). ``cases`` is emptied once stacked:
    the stacked arrays are all training needs, so memory during training is about 6 GB for 900
    full-size cases instead of 12 (stacking itself still briefly holds both).
    """
    global_set, patch_set = stack_sets(cases)
    cases.clear()
    channels = global_set.inputs.shape[1]
    log.info(
        "train: %d images (%d with lesions), %d crops (%d with lesions)",
        len(global_set.labels),
        int(global_set.labels.sum()),
        len(patch_set.labels),
        int(patch_set.labels.sum()),
    )
    torch.manual_seed(seed)
    patch = new_model(config, channels, config.patch_top_k)
    if resume is not None:
        load_weights(resume / "patch.npz", patch)
    t0 = time.monotonic()
    patch_hist = train_stage(patch, patch_set, config.patch, seed, "patch")
    t1 = time.monotonic()
    glob = new_model(config, channels, config.global_top_k, config.global_stride)
    if resume is not None:
        saved = resume / "global.npz"
        if config.global_stride == 8 and saved_stride(saved) == 16:  # read on the finer grid
            coarse = new_model(config, channels, config.global_top_k // 4)
            glob = densify(load_weights(saved, coarse), config.global_top_k)
        else:
            load_weights(saved, glob)
    else:
        glob.load_state_dict(patch.state_dict())
    glob_hist = train_stage(glob, global_set, config.global_, seed + 1, "global")
    trained = config.global_.max_seconds > 0 or resume is None  # else: kept exactly as saved
    if config.global_.window_cells is not None and trained:
        _recalibrate_on_images(glob, global_set)
    t_global = time.monotonic()
    hard_hist, hard_info = _hard_stage(glob, global_set, config, seed + 3)
    t2 = time.monotonic()
    n_images, n_crops = len(global_set.labels), len(patch_set.labels)
    del global_set  # not needed by the mined stage: about 3 GB for 900 cases
    mined_hist: list[float] = []
    mined_info: dict[str, object] = {}
    if mining is not None and config.patch_mined is not None and config.mined_images > 0:
        mined = mined_set(
            mining.cache,
            glob,
            list(mining.seeds)[: config.mined_images],
            mining.manifest,
            config.mined_top_k,
            config.image_shape,
            config.mass_weight,
            mining.workers,
        )
        log.info("mined %d crops (%d with lesions)", len(mined.labels), int(mined.labels.sum()))
        mined_info = {
            "mining_seconds": round(time.monotonic() - t2, 1),
            "mined_images": config.mined_images,
            "mined_crops": len(mined.labels),
            "mined_crops_with_lesions": int(mined.labels.sum()),
            "patch_mined_stage": dataclasses.asdict(config.patch_mined),
        }
        both = _concat(patch_set, mined)
        del patch_set, mined
        t_mined = time.monotonic()
        mined_hist = train_stage(patch, both, config.patch_mined, seed + 2, "patch-mined")
        mined_info["patch_mined_seconds"] = round(time.monotonic() - t_mined, 1)
    info: dict[str, object] = {
        "patch_train_seconds": round(t1 - t0, 1),
        "global_train_seconds": round(t_global - t1, 1),
        "patch_loss_per_epoch": [round(v, 4) for v in patch_hist],
        "global_loss_per_epoch": [round(v, 4) for v in glob_hist],
        "global_stage": dataclasses.asdict(config.global_),
        **hard_info,
        "global_hard_loss_per_epoch": [round(v, 4) for v in hard_hist],
        **mined_info,
        "patch_mined_loss_per_epoch": [round(v, 4) for v in mined_hist],
        "architecture": {
            "widths": list(config.widths),
            "dilations": list(config.dilations),
            "global_stride": config.global_stride,
            "patch_top_k": config.patch_top_k,
            "global_top_k": config.global_top_k,
            "patch_parameters": count_parameters(patch),
            "global_parameters": count_parameters(glob),
        },
        "train_images": n_images,
        "mass_weight": config.mass_weight,
        "small_mass_mm": config.small_mass_mm,
        "small_mass_weight": config.small_mass_weight,
        "train_crops": n_crops,
    }
    return patch, glob, info


BATCHNORM_IMAGES = 40  # about this many whole images re-estimate BatchNorm after window training


def batchnorm_stride(n_images: int) -> int:
    """Every how many of ``n_images`` training images one goes into the BatchNorm re-estimation."""
    return max(1, n_images // BATCHNORM_IMAGES)


def recalibrate_on_images(glob: CamClassifier, whole_inputs: np.ndarray) -> None:
    """BatchNorm of a global model trained on windows (or averaged), re-estimated on whole
    images (picked with `batchnorm_stride`)."""
    recalibrate_batchnorm(glob, whole_inputs, 4)


def _recalibrate_on_images(glob: CamClassifier, global_set: Batchable) -> None:
    """`recalibrate_on_images` on about 40 of the training set's whole images."""
    recalibrate_on_images(glob, global_set.inputs[:: batchnorm_stride(len(global_set.labels))])


def _hard_stage(
    glob: CamClassifier, global_set: Batchable, config: RunConfig, seed: int
) -> tuple[list[float], dict[str, object]]:
    """Fine-tune the global model with windows around its own false-positive peaks (mined once,
    on whole training images), then re-estimate BatchNorm. No-op without ``config.global_hard``
    or with a 0 budget."""
    stage = config.global_hard
    if stage is None or stage.max_seconds <= 0:
        return [], {}
    if stage.window_cells is None or stage.hard_fraction <= 0:
        raise ValueError(
            f"global_hard stage: window_cells {stage.window_cells}, hard_fraction "
            f"{stage.hard_fraction}: expected windows and a hard fraction > 0"
        )
    start = time.monotonic()
    cells = hard_cells(glob, global_set, config.hard_per_image, config.hard_exclusion)
    if not len(cells):  # e.g. a CSV run whose images have no lesion boxes: nothing to mine
        log.info("global-hard: no image with known lesion cells, stage skipped")
        return [], {"global_hard_peaks": 0}
    in_lesion = int((global_set.labels[cells[:, 0]] > 0.5).sum())
    log.info("global-hard: %d false-positive peaks (%d in lesion images)", len(cells), in_lesion)
    mined = time.monotonic() - start
    history = train_stage(
        glob, dataclasses.replace(global_set, hard_cells=cells), stage, seed, "global-hard"
    )
    if history:
        _recalibrate_on_images(glob, global_set)
    return history, {
        "global_hard_mining_seconds": round(mined, 1),
        "global_hard_peaks": len(cells),
        "global_hard_peaks_in_lesion_images": in_lesion,
        "global_hard_stage": dataclasses.asdict(stage),
        "global_hard_seconds": round(time.monotonic() - start - mined, 1),
    }


def _concat(a: Batchable, b: Batchable) -> Batchable:
    def weights(s: Batchable) -> np.ndarray:
        if s.positive_weights is None:
            return np.ones(len(s.labels), np.float32)
        return s.positive_weights

    return Batchable(
        np.concatenate([a.inputs, b.inputs]),
        np.concatenate([a.labels, b.labels]),
        np.concatenate([a.cell_targets, b.cell_targets]),
        np.concatenate([weights(a), weights(b)]),
    )


def export_bundle(
    out: Path, weights: Path, patch: CamClassifier, glob: CamClassifier, draft: ModelManifest
) -> ModelManifest:
    """Write global.onnx and patch.onnx (verified) and return the draft with their sha256 and
    the top-k of the exported graphs (a densified or averaged stride-8 model's k differs from
    the run configuration's)."""
    out.mkdir(parents=True, exist_ok=True)
    g_shape = tuple(int(d) for d in draft.global_model.input_shape)
    export_model(glob, out / "global.onnx", draft.global_model.input_name, _probe(g_shape), False)
    C = draft.patch_model.channels
    S = draft.crop_size
    export_model(
        patch, out / "patch.onnx", draft.patch_model.input_name, _probe((1, C, S, S)), True
    )
    save_weights(weights, patch, glob)
    return dataclasses.replace(
        draft,
        global_model=_exported(draft.global_model, glob, out),
        patch_model=_exported(draft.patch_model, patch, out),
    )


def _exported(spec: StageSpec, model: CamClassifier, out: Path) -> StageSpec:
    k = model.top_k if spec.cam_pooling_k is not None else None
    return dataclasses.replace(spec, sha256=sha256_of(out / spec.file), cam_pooling_k=k)


def _probe(shape: tuple[int, ...]) -> torch.Tensor:
    """A deterministic non-trivial example input for export and verification."""
    gen = torch.Generator().manual_seed(0)
    return torch.rand(shape, generator=gen)


def save_weights(folder: Path, patch: CamClassifier, glob: CamClassifier) -> None:
    """Torch weights as plain .npz arrays (no pickle), for Grad-CAM parity tests and fine-tuning."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in (("patch", patch), ("global", glob)):
        arrays = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        # Dilated and plain convolutions have the same weight shapes: record the architecture.
        arrays[ARCH_DILATIONS] = np.array(model.backbone.dilations, np.int64)
        arrays[ARCH_STRIDE] = np.array(model.backbone.stride, np.int64)
        np.savez_compressed(folder / f"{name}.npz", **arrays)


ARCH_DILATIONS = "_arch_dilations"
ARCH_STRIDE = "_arch_stride"
_ARCH = (ARCH_DILATIONS, ARCH_STRIDE)


def saved_stride(path: Path) -> int:
    """The backbone stride a ``save_weights`` file was written from (16 when not recorded)."""
    with np.load(path) as arrays:
        return int(arrays[ARCH_STRIDE]) if ARCH_STRIDE in arrays else 16


def load_weights(path: Path, model: CamClassifier) -> CamClassifier:
    """Load weights written by ``save_weights`` into ``model`` (eval mode).

    Raises ValueError when the file was saved from other dilations or another stride than
    ``model``'s (files without the record predate them and are (1, 1), stride 16)."""
    with np.load(path) as arrays:
        state = {k: torch.from_numpy(arrays[k]) for k in arrays.files if k not in _ARCH}
        saved = (
            tuple(int(v) for v in arrays[ARCH_DILATIONS]) if ARCH_DILATIONS in arrays else (1, 1)
        )
        stride = int(arrays[ARCH_STRIDE]) if ARCH_STRIDE in arrays else 16
    if saved != model.backbone.dilations:
        raise ValueError(
            f"{path}: weights of a backbone with dilations {saved}, model has "
            f"{model.backbone.dilations}"
        )
    if stride != model.backbone.stride:
        raise ValueError(
            f"{path}: weights of a backbone with stride {stride}, model has {model.backbone.stride}"
        )
    model.load_state_dict(state)
    return model.eval()


def _loaded(path: Path, model: CamClassifier) -> CamClassifier:
    """``path`` loaded into ``model``, or, when it was saved from a coarser stride, into a model
    of that stride (its weights are the same tensors: `training.models.densify`)."""
    stride = saved_stride(path)
    if stride <= model.backbone.stride:
        return load_weights(path, model)
    bb = model.backbone
    coarse = CamClassifier(
        bb.in_channels, pooling=model.pooling, widths=bb.widths, dilations=bb.dilations,
        stride=stride,
    )  # fmt: skip
    return load_weights(path, coarse)


def average_weights(paths: Sequence[Path], model: CamClassifier) -> CamClassifier:
    """Load into ``model`` the uniform mean of several ``save_weights`` files of its architecture
    (a "model soup" of runs fine-tuned from one another; eval mode). A file saved from a coarser
    stride than ``model``'s is read on its grid, as `densify` does. BatchNorm running
    statistics are averaged too: re-estimate them on whole images afterwards."""
    if not paths:
        raise ValueError("average_weights: no weight files given")
    # state_dict() shares the model's tensors, and each file is loaded into the same model
    states = [{k: v.clone() for k, v in _loaded(p, model).state_dict().items()} for p in paths]
    mean = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            total = sum(state[key].double() for state in states)
            mean[key] = (total / len(states)).to(first.dtype)
        else:  # num_batches_tracked: an integer count, not a weight
            mean[key] = first.clone()
    model.load_state_dict(mean)
    return model.eval()

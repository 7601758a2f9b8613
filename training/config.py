"""Run configurations (full and --quick) and the draft manifest describing the model inputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from inference.manifest import (
    CamPooling,
    ChannelKind,
    ChannelSpec,
    ModelManifest,
    Normalization,
    StageSpec,
)
from training.loop import StageConfig

MODEL_NAME = "mammolens-gmic-synthetic"
MODEL_VERSION = "1.9.0"
PIXEL_SPACING_MM = 0.07
INTENDED_USE = (
    "Research and demonstration only; NOT FOR CLINICAL USE. Trained only on synthetic "
    "mammograms; it has never seen a real patient image and must not inform any diagnosis."
)
TRAIN_SEED_BASE = 100_000
VALIDATION_SEED_BASE = 800_000
HELD_OUT_SEED_BASE = 900_000


@dataclass(frozen=True)
class RunConfig:
    """Sizes of one training run: data counts, input geometry, stage hyper-parameters."""

    n_train: int
    n_validation: int
    n_held_out: int
    global_hw: tuple[int, int]
    crop_size: int
    image_shape: tuple[int, int] | None  # None: the generator's default (4096 x 3328)
    pixel_spacing_mm: float
    crops_per_lesion: int
    normal_crops: int
    patch: StageConfig
    global_: StageConfig
    global_top_k: int = 4
    patch_top_k: int = 4
    widths: tuple[int, ...] = (16, 32, 48, 64, 96)
    dilations: tuple[int, int] = (1, 1)  # of the last two convolutions (see training.models)
    global_stride: int = 16  # of the global model (8: twice finer cam grid; training.models)
    mass_weight: float = 1.0  # how much likelier a mass case is drawn as a positive than a cluster
    # Mass cases whose lesion is smaller than this (equivalent diameter of its global cell cover)
    # are drawn small_mass_weight times as often again as other mass cases (0: off); this
    # weights the training cases' images and crops, not the mined-crop patch stage's crops
    small_mass_mm: float = 0.0
    small_mass_weight: float = 1.0
    mined_images: int = 0  # training images whose global top-K crops fine-tune the patch model
    mined_top_k: int = 6
    patch_mined: StageConfig | None = None  # that last patch stage (None: no mining)
    # The global model fine-tuned with windows around its own false-positive peaks (None: no)
    global_hard: StageConfig | None = None
    hard_per_image: int = 2  # false-positive peaks mined per training image
    hard_exclusion: int = 4  # cells kept between a peak and a lesion cell (or another peak)
    highpass_sigma_mm: float = 0.5
    highpass_scale: float = 4.0
    notes: dict[str, str] = field(default_factory=dict)


_FULL_GLOBAL = StageConfig(
    epochs=1000,
    batch_size=8,
    learning_rate=1e-3,
    dense_weight=1.0,
    flip_horizontal=False,
    max_seconds=40 * 60,
    window_cells=(32, 26),
)
_QUICK_GLOBAL = dataclasses.replace(
    _FULL_GLOBAL, epochs=1, batch_size=2, max_seconds=float("inf"), window_cells=(8, 6)
)

FULL = RunConfig(
    n_train=900,
    n_validation=600,
    n_held_out=600,
    global_hw=(1024, 832),
    crop_size=256,
    image_shape=None,
    pixel_spacing_mm=PIXEL_SPACING_MM,
    crops_per_lesion=6,
    normal_crops=6,
    patch=StageConfig(
        epochs=100, batch_size=32, learning_rate=2e-3, dense_weight=0.5, max_seconds=10 * 60
    ),
    global_=_FULL_GLOBAL,
    global_hard=dataclasses.replace(
        _FULL_GLOBAL,
        learning_rate=3e-4,
        max_seconds=20 * 60,
        hard_fraction=0.375,
        peak_targets=True,
        rank_weight=0.5,
    ),
    mass_weight=2.0,
    mined_images=600,
    patch_mined=StageConfig(
        epochs=1000, batch_size=32, learning_rate=5e-4, dense_weight=0.5, max_seconds=12 * 60
    ),
)

QUICK = RunConfig(
    n_train=6,
    n_validation=3,
    n_held_out=3,
    global_hw=(256, 208),
    crop_size=64,
    image_shape=(1024, 832),
    pixel_spacing_mm=0.28,
    crops_per_lesion=2,
    normal_crops=2,
    patch=StageConfig(epochs=1, batch_size=4, learning_rate=1e-3, dense_weight=0.5),
    global_=_QUICK_GLOBAL,
    global_hard=dataclasses.replace(
        _QUICK_GLOBAL, batch_size=4, hard_fraction=0.5, peak_targets=True, rank_weight=0.5
    ),
    widths=(8, 8, 8, 8, 8),
    mined_images=3,
    mined_top_k=2,
    patch_mined=StageConfig(epochs=1, batch_size=4, learning_rate=1e-3, dense_weight=0.5),
)


def finer_global(config: RunConfig) -> RunConfig:
    """``config`` with the global model on the stride-8 cam grid (twice finer): the top-k mean,
    the training windows and the false-positive stage's exclusion scaled so that they cover
    the same area of the image as at stride 16. (The ranking term's one-cell rim and the
    lesion-peak targets' 3-cell reach stay in cells, so they shrink to half in mm.)"""
    if config.global_stride != 16:
        raise ValueError(f"finer_global: stride is {config.global_stride} already, expected 16")

    def windows(stage: StageConfig | None) -> StageConfig | None:
        if stage is None or stage.window_cells is None:
            return stage
        rows, cols = stage.window_cells
        return dataclasses.replace(stage, window_cells=(2 * rows, 2 * cols))

    glob = windows(config.global_)
    assert glob is not None
    return dataclasses.replace(
        config,
        global_stride=8,
        global_top_k=4 * config.global_top_k,
        global_=glob,
        global_hard=windows(config.global_hard),
        hard_exclusion=2 * config.hard_exclusion,
    )


def draft_manifest(config: RunConfig) -> ModelManifest:
    """The manifest's input description (no hashes or metrics yet): what preprocessing reads."""
    H, W = config.global_hw
    S = config.crop_size
    channels = (
        ChannelSpec(ChannelKind.INTENSITY),
        ChannelSpec(
            ChannelKind.HIGHPASS_MAX,
            sigma_mm=config.highpass_sigma_mm,
            scale=config.highpass_scale,
        ),
    )
    return ModelManifest(
        schema_version=1,
        name=MODEL_NAME,
        version=MODEL_VERSION,
        global_model=StageSpec(
            file="global.onnx",
            sha256="",
            input_shape=(1, len(channels), H, W),
            input_name="image",
            cam_pooling=CamPooling.TOPK_MEAN,
            cam_pooling_k=config.global_top_k,
            cam_target_layer="backbone.features",
        ),
        patch_model=StageSpec(
            file="patch.onnx",
            sha256="",
            input_shape=("batch", len(channels), S, S),
            input_name="crop",
            cam_pooling=CamPooling.TOPK_MEAN,
            cam_pooling_k=config.patch_top_k,
            cam_target_layer="backbone.features",
        ),
        pixel_spacing_mm=config.pixel_spacing_mm,
        channels=channels,
        normalization=Normalization(low_percentile=1.0, high_percentile=99.0),
        intended_use=INTENDED_USE,
    )

"""Training loops: patch pre-training, then the global model with dense CAM supervision."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from training.models import CamClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batchable:
    """Arrays of one training set: inputs [N, C, H, W] (float16 ok), labels [N], cell targets.

    ``cell_targets`` [N, h, w] is the share of each CAM cell covered by a lesion (0..1).
    ``positive_weights`` [N] (optional) makes some positives more likely in a batch (for
    example masses, the harder lesion type); None draws positives uniformly.
    ``hard_cells`` [M, 3] (optional; rows: input index, cell row, cell column) are the model's
    own false-positive peaks (see `hard_cells`): with a stage's ``hard_fraction`` > 0, that share
    of every batch is windows around them.
    """

    inputs: np.ndarray
    labels: np.ndarray
    cell_targets: np.ndarray
    positive_weights: np.ndarray | None = None
    hard_cells: np.ndarray | None = None


def crop_set(cases: Sequence[Mapping[str, np.ndarray]], weights: Sequence[float]) -> Batchable:
    """The crops of case arrays (keys "crops", "crop_labels", "crop_cover") as one training set;
    each crop is drawn as a positive with its case's weight."""
    return Batchable(
        np.concatenate([c["crops"] for c in cases]),
        np.concatenate([c["crop_labels"] for c in cases]).astype(np.float32),
        np.concatenate([c["crop_cover"] for c in cases]),
        np.concatenate(
            [
                np.full(len(c["crop_labels"]), w, np.float32)
                for c, w in zip(cases, weights, strict=True)
            ]
        ),
    )


@dataclass(frozen=True)
class StageConfig:
    """Hyper-parameters of one training stage."""

    epochs: int
    batch_size: int
    learning_rate: float
    dense_weight: float
    weight_decay: float = 1e-4
    flip_horizontal: bool = True
    max_seconds: float = float("inf")  # wall-time budget; the cosine schedule follows it too
    window_cells: tuple[int, int] | None = None  # train on windows of this many CAM cells
    hard_fraction: float = 0.0  # share of each batch from windows around Batchable.hard_cells
    # Dense targets relative to each lesion's most-covered cell (see `lesion_peak_targets`)
    peak_targets: bool = False
    # Weight of the ranking term: a lesion's best cell above every other cell (see `rank_loss`)
    rank_weight: float = 0.0


PEAK_REACH = 3  # cells: the largest lesion (20 mm) spans 5 global cells of 4.5 mm


def lesion_peak_targets(t: torch.Tensor, reach: int = PEAK_REACH) -> torch.Tensor:
    """Cell cover targets [N, h, w] divided by the largest cover within ``reach`` cells.

    The cover of a cell is the share of it inside a lesion. A lesion smaller than a cell, or
    straddling a corner, covers at most 0.2-0.5 of any cell; trained towards that share, its
    cells get a negative logit, which for a bias near 0 is a negative CAM: Grad-CAM then shows
    nothing at all. Divided by the local maximum, every lesion's most-covered cell is a full
    positive and the rest keep their proportion. Cells at 0 (or -1, unknown) are unchanged.
    Applied to training windows (as runs 7 and 8 were trained): where a window cuts through a
    lesion, its visible rim becomes the local maximum (about 1 % of positive windows)."""
    peak = functional.max_pool2d(t[:, None], 2 * reach + 1, stride=1, padding=reach)[:, 0]
    return torch.where(t > 0, t / peak.clamp(min=1e-6), t)


def _augment(
    x: torch.Tensor, t: torch.Tensor, rng: np.random.Generator, flip_h: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flips that keep the lesion/cell correspondence; a mild gain on the intensity channel."""
    if rng.random() < 0.5:
        x, t = x.flip(-2), t.flip(-2)
    if flip_h and rng.random() < 0.5:
        x, t = x.flip(-1), t.flip(-1)
    gain = torch.from_numpy(rng.uniform(0.9, 1.1, size=(x.shape[0], 1, 1, 1)).astype(np.float32))
    x = x.clone()
    x[:, :1] = x[:, :1] * gain
    return x, t


def grow(mask: torch.Tensor, cells: int) -> torch.Tensor:
    """Boolean masks [N, h, w] dilated by a square of side 2 * ``cells`` + 1 (cells within
    Chebyshev distance ``cells`` of a True cell)."""
    side = 2 * cells + 1
    return functional.max_pool2d(mask[:, None].float(), side, stride=1, padding=cells)[:, 0] > 0


RANK_MARGIN = 1.0  # logit units between a lesion's best cell and the best cell elsewhere


def rank_loss(cam: torch.Tensor, t: torch.Tensor, margin: float = RANK_MARGIN) -> torch.Tensor:
    """The pointing game as a loss: softplus(margin + best other cell - best lesion cell).

    ``cam`` [N, h, w]; ``t`` [N, h, w] lesion cover (0 outside lesions, -1 unknown). Only inputs
    whose cells are all known, with a lesion cell and a cell elsewhere, count (mean over them;
    0 when there are none). "Elsewhere" is more than one cell away from any lesion cell, so a
    lesion's blurred rim is not penalized. The dense BCE treats every cell on its own; this
    term asks for the order the pointing game and the top-K crop choice depend on."""
    lesion = t > 0
    near = grow(lesion, 1)
    has = lesion.flatten(1).any(1) & (~near).flatten(1).any(1) & (t >= 0).flatten(1).all(1)
    if not bool(has.any()):
        return cam.sum() * 0.0
    floor = torch.finfo(cam.dtype).min
    best_lesion = cam.masked_fill(~lesion, floor).flatten(1).amax(1)
    best_other = cam.masked_fill(near, floor).flatten(1).amax(1)
    return functional.softplus(margin + best_other - best_lesion)[has].mean()


def _loss(
    model: CamClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    t: torch.Tensor,
    dense_weight: float,
    peak_targets: bool = False,
    rank_weight: float = 0.0,
) -> torch.Tensor:
    """Image-level BCE on the logit plus BCE of every CAM cell (cam + bias) against lesion cover
    (relative to each lesion's most-covered cell with ``peak_targets``), plus ``rank_weight``
    times `rank_loss`."""
    logit, cam = model(x)
    loss = functional.binary_cross_entropy_with_logits(logit[:, 0], y)
    if (dense_weight > 0 or rank_weight > 0) and cam.shape[-2:] != t.shape[-2:]:
        raise ValueError(f"cell targets {tuple(t.shape)} do not match CAM {tuple(cam.shape)}")
    if dense_weight > 0:
        cells = cam[:, 0] + model.bias
        # Positive cells are rare: weight them so that a lesion is not drowned by the background.
        # Cells of images without a lesion mask carry -1: no dense supervision there.
        known = (t >= 0).float()
        target = t.clamp(min=0.0)
        if peak_targets:
            target = lesion_peak_targets(target)
        pos = target.sum().clamp(min=1.0)
        weight = known * (1.0 + target * (known.sum() / pos).clamp(max=50.0) ** 0.5)
        dense = functional.binary_cross_entropy_with_logits(
            cells, target, weight=weight, reduction="sum"
        ) / known.sum().clamp(min=1.0)
        loss = loss + dense_weight * dense
    if rank_weight > 0:
        loss = loss + rank_weight * rank_loss(cam[:, 0], t)
    return loss


def _batch(
    data: Batchable, config: StageConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An augmented batch: half positives, the rest negatives (class-balanced).

    Positives are drawn with ``data.positive_weights`` when given. With ``config.hard_fraction``
    and ``data.hard_cells``, that share of the batch (taken from the negatives' half) is windows
    around hard cells instead, labelled by whether the window holds a lesion cell; the batch is
    then no longer balanced (a window around a peak in a lesion image often holds the lesion
    too: in about 3 of 10 hard windows with `FULL`'s 32 x 26-cell windows)."""
    pos_idx = np.flatnonzero(data.labels > 0.5)
    neg_idx = np.flatnonzero(data.labels <= 0.5)
    half = config.batch_size // 2
    n_hard = 0
    if data.hard_cells is not None and len(data.hard_cells) and config.window_cells is not None:
        n_hard = min(config.batch_size - half, round(config.batch_size * config.hard_fraction))
    p = None
    if data.positive_weights is not None:
        w = data.positive_weights[pos_idx].astype(np.float64)
        p = w / w.sum()
    n_neg = config.batch_size - half - n_hard
    idx = np.concatenate(
        [
            rng.choice(pos_idx, half, replace=len(pos_idx) < half, p=p),
            rng.choice(neg_idx, n_neg, replace=len(neg_idx) < n_neg),
        ]
    )
    xs, ts, ys = [], [], []
    for i in idx:
        x, t = data.inputs[i], data.cell_targets[i]
        if config.window_cells is not None:
            x, t = _window(x, t, bool(data.labels[i] > 0.5), config.window_cells, rng)
        xs.append(x.astype(np.float32))
        ts.append(t.astype(np.float32))
        ys.append(float(data.labels[i]))
    if n_hard:
        assert data.hard_cells is not None and config.window_cells is not None
        for i, r, c in data.hard_cells[rng.choice(len(data.hard_cells), n_hard)]:
            x, t = _window_at(
                data.inputs[i], data.cell_targets[i], (int(r), int(c)), config.window_cells, rng
            )
            xs.append(x.astype(np.float32))
            ts.append(t.astype(np.float32))
            ys.append(float((t > 0).any()))
    y = torch.tensor(ys, dtype=torch.float32)
    x, t = _augment(
        torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts)), rng, config.flip_horizontal
    )
    return x, y, t


def _window(
    x: np.ndarray, t: np.ndarray, positive: bool, cells: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A window of ``cells`` CAM cells: around a lesion cell for a positive image (so the image
    label stays true), around a random breast cell otherwise. The CAM is fully convolutional, so
    windows train the same weights at a fraction of the cost of whole images."""
    stride = x.shape[-1] // t.shape[-1]
    lesion = np.argwhere(t > 0)
    if positive and len(lesion):
        centre = lesion[rng.integers(len(lesion))]
    else:
        breast = np.argwhere(_breast_cells(x, stride))
        centre = breast[rng.integers(len(breast))] if len(breast) else np.array(t.shape) // 2
    return _window_at(x, t, (int(centre[0]), int(centre[1])), cells, rng)


def _breast_cells(x: np.ndarray, stride: int) -> np.ndarray:
    """CAM cells whose centre pixel is breast (the first channel is 0 outside the breast)."""
    return np.asarray(x[0, stride // 2 :: stride, stride // 2 :: stride] != 0)


def _window_at(
    x: np.ndarray,
    t: np.ndarray,
    centre: tuple[int, int],
    cells: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A window of ``cells`` CAM cells holding cell ``centre`` at a random place (clipped to the
    image)."""
    stride = x.shape[-1] // t.shape[-1]
    start = []
    for axis in range(2):
        first = centre[axis] - rng.integers(0, cells[axis])
        start.append(int(np.clip(first, 0, t.shape[axis] - cells[axis])))
    r, c = start
    h, w = cells
    return (
        x[:, r * stride : (r + h) * stride, c * stride : (c + w) * stride],
        t[r : r + h, c : c + w],
    )


@torch.no_grad()
def hard_cells(
    model: CamClassifier,
    data: Batchable,
    per_image: int,
    exclusion: int,
    batch_size: int = 4,
) -> np.ndarray:
    """The model's strongest false-positive cells: [M, 3] rows (input index, cell row, column).

    For every input (whole image, eval mode) the ``per_image`` highest cells of the CAM inside
    the breast, more than ``exclusion`` cells (Chebyshev distance) from any lesion cell and from
    each other. Inputs whose lesion cells are unknown (cell targets -1) are skipped: a peak
    there may be the lesion."""
    model.eval()
    rows: list[tuple[int, int, int]] = []
    for start in range(0, len(data.labels), batch_size):
        x = torch.from_numpy(data.inputs[start : start + batch_size].astype(np.float32))
        cams = model(x)[1][:, 0].numpy()
        stride = x.shape[-1] // cams.shape[-1]
        for j, cam in enumerate(cams):
            i = start + j
            t = data.cell_targets[i]
            if (t < 0).any():
                continue
            free = _breast_cells(x[j].numpy(), stride)
            near = grow(torch.from_numpy(t > 0)[None], exclusion)[0].numpy()
            free = free[: cam.shape[0], : cam.shape[1]] & ~near
            score = np.where(free, cam, -np.inf)
            for _ in range(per_image):
                flat = int(np.argmax(score))
                if not np.isfinite(score.flat[flat]):
                    break
                r, c = divmod(flat, score.shape[1])
                rows.append((i, r, c))
                score[max(0, r - exclusion) : r + exclusion + 1,
                      max(0, c - exclusion) : c + exclusion + 1] = -np.inf  # fmt: skip
    return np.array(rows, np.int64).reshape(-1, 3)


@torch.no_grad()
def recalibrate_batchnorm(model: CamClassifier, inputs: np.ndarray, batch_size: int) -> None:
    """Re-estimate BatchNorm statistics on whole inputs (after training on windows)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the passes below
    model.train()
    for i in range(0, len(inputs), batch_size):
        model(torch.from_numpy(inputs[i : i + batch_size].astype(np.float32)))
    model.eval()


def train_stage(
    model: CamClassifier, data: Batchable, config: StageConfig, seed: int, name: str
) -> list[float]:
    """Train ``model`` in place with AdamW and a cosine schedule; returns the mean loss per epoch.

    Batches are class-balanced by sampling. The schedule's progress is the larger of the step
    fraction and the elapsed fraction of ``max_seconds``; training stops when it reaches 1. A
    budget of 0 skips the stage.
    """
    if config.max_seconds <= 0:
        log.info("%s: no time budget, stage skipped", name)
        model.eval()
        return []
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = max(1, len(data.labels) // config.batch_size)
    total = config.epochs * steps_per_epoch
    history: list[float] = []
    start = time.monotonic()
    step = 0
    for epoch in range(config.epochs):
        model.train()
        losses = []
        for _ in range(steps_per_epoch):
            progress = max(step / total, (time.monotonic() - start) / config.max_seconds)
            if progress >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = config.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))
            x, y, t = _batch(data, config, rng)
            loss = _loss(
                model, x, y, t, config.dense_weight, config.peak_targets, config.rank_weight
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
        if not losses:
            log.info(
                "%s: time budget of %.0f s reached after %d steps", name, config.max_seconds, step
            )
            break
        history.append(float(np.mean(losses)))
        elapsed = time.monotonic() - start
        log.info(
            "%s epoch %d/%d loss %.4f (%.0f s)",
            name,
            epoch + 1,
            config.epochs,
            history[-1],
            elapsed,
        )
    model.eval()
    return history


@torch.no_grad()
def predict(model: CamClassifier, inputs: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Logits [N] of ``model`` (eval mode) on ``inputs`` [N, C, H, W]."""
    model.eval()
    out = []
    for i in range(0, len(inputs), batch_size):
        x = torch.from_numpy(inputs[i : i + batch_size].astype(np.float32))
        out.append(model(x)[0][:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)

"""Training loops: patch pre-training, then the global model with dense CAM supervision."""

from __future__ import annotations

import logging
import math
import time
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
    """

    inputs: np.ndarray
    labels: np.ndarray
    cell_targets: np.ndarray


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


def _loss(
    model: CamClassifier, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, dense_weight: float
) -> torch.Tensor:
    """Image-level BCE on the logit plus BCE of every CAM cell (cam + bias) against lesion cover."""
    logit, cam = model(x)
    loss = functional.binary_cross_entropy_with_logits(logit[:, 0], y)
    if dense_weight > 0:
        cells = cam[:, 0] + model.bias
        if cells.shape[-2:] != t.shape[-2:]:
            raise ValueError(f"cell targets {tuple(t.shape)} do not match CAM {tuple(cells.shape)}")
        # Positive cells are rare: weight them so that a lesion is not drowned by the background.
        # Cells of images without a lesion mask carry -1: no dense supervision there.
        known = (t >= 0).float()
        t = t.clamp(min=0.0)
        pos = t.sum().clamp(min=1.0)
        weight = known * (1.0 + t * (known.sum() / pos).clamp(max=50.0) ** 0.5)
        dense = functional.binary_cross_entropy_with_logits(
            cells, t, weight=weight, reduction="sum"
        ) / known.sum().clamp(min=1.0)
        loss = loss + dense_weight * dense
    return loss


def _batch(
    data: Batchable, config: StageConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A class-balanced, augmented batch (half positives, half negatives)."""
    pos_idx = np.flatnonzero(data.labels > 0.5)
    neg_idx = np.flatnonzero(data.labels <= 0.5)
    half = config.batch_size // 2
    idx = np.concatenate(
        [
            rng.choice(pos_idx, half, replace=len(pos_idx) < half),
            rng.choice(neg_idx, config.batch_size - half, replace=len(neg_idx) < half),
        ]
    )
    x = torch.from_numpy(data.inputs[idx].astype(np.float32))
    y = torch.from_numpy(data.labels[idx].astype(np.float32))
    t = torch.from_numpy(data.cell_targets[idx].astype(np.float32))
    x, t = _augment(x, t, rng, config.flip_horizontal)
    return x, y, t


def train_stage(
    model: CamClassifier, data: Batchable, config: StageConfig, seed: int, name: str
) -> list[float]:
    """Train ``model`` in place with AdamW and a cosine schedule; returns the mean loss per epoch.

    Batches are class-balanced by sampling. The schedule's progress is the larger of the step
    fraction and the elapsed fraction of ``max_seconds``; training stops when it reaches 1.
    """
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
            loss = _loss(model, x, y, t, config.dense_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            losses.append(float(loss))
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

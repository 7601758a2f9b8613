"""Crops chosen by the trained global model, for a last patch-model stage (GMIC's setting).

The patch model is pre-trained on crops around lesions and on random normal tissue, but at
runtime it scores the global model's top-K regions: in a normal image those are the most
lesion-like places of the breast, harder than random tissue. Mining re-runs the runtime's own
region choice (`inference.regions.select_regions` on the global CAM) on training images and keeps
the chosen crops, positive when a lesion centre lies inside (crops touching a lesion off-centre
are dropped), so the patch model is fine-tuned on the distribution it will see. Mined crops
depend on the global weights, so they are cached under a hash of those weights.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.manifest import ModelManifest, manifest_from_dict
from inference.regions import select_regions
from training import data, prep
from training.loop import Batchable, crop_set
from training.metrics import box_contains
from training.models import CamClassifier

log = logging.getLogger(__name__)

MINING_VERSION = 2  # of the labelling rule (2: crops touching a lesion off-centre are dropped)


def weights_digest(model: CamClassifier) -> str:
    """sha256 (16 hex) of a model's weights and grid: the cache key of what it mines. (A
    stride-8 model made by `densify` has its source's weights but mines other regions; stride 16
    adds nothing, so earlier mined caches stay valid.)"""
    digest = hashlib.sha256()
    if model.backbone.stride != 16:
        digest.update(f"stride {model.backbone.stride}".encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensor.detach().numpy()).tobytes())
    return digest.hexdigest()[:16]


@torch.no_grad()
def mine_case(
    glob: CamClassifier,
    spec: data.CaseSpec,
    manifest: ModelManifest,
    top_k: int,
    shape: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """The top-K crops of one regenerated training image, with labels and CAM-cell cover.

    A crop is positive when a lesion centre lies inside it (the evaluation's rule). A crop that
    touches a lesion without containing its centre is dropped: labelled negative, its covered
    cells would be pushed up by the cell loss and down by the crop loss at once. ``glob`` must be
    in eval mode (BatchNorm statistics frozen)."""
    if glob.training:
        raise ValueError("mine with the global model in eval mode")
    m = data.generate(spec, shape)
    values = m.pixels.astype(np.float32)
    p = prep.prepare(values, m.pixel_spacing_mm, m.laterality, manifest)
    cam = glob(torch.from_numpy(p.global_input.astype(np.float32)))[1][0, 0].numpy()
    regions = select_regions(cam, p.transform, p.mask, manifest.crop_size, top_k)
    boxes = [r.box for r in regions]
    centres = [prep.canonical_point(lesion.center_yx, p.transform) for lesion in m.lesions]
    labels = [int(any(box_contains(b, c) for c in centres)) for b in boxes]
    cell = manifest.crop_size // data.STRIDE
    if m.lesions:
        mask = data.lesions_mask(m)
        cover = np.stack([prep.crop_cover(mask, p.transform, b, data.STRIDE) for b in boxes])
    else:
        cover = np.zeros((len(boxes), cell, cell), np.float32)
    cover = cover.reshape(-1, cell, cell).astype(np.float32)
    keep = [i for i, y in enumerate(labels) if y == 1 or not (cover[i] > 0).any()]
    crops = prep.crops(p, [boxes[i] for i in keep], manifest) if keep else None
    C, S = len(manifest.channels), manifest.crop_size
    return {
        "crops": (crops if crops is not None else np.zeros((0, C, S, S))).astype(np.float16),
        "crop_labels": np.array([labels[i] for i in keep], np.int64),
        "crop_cover": cover[keep],
        "dropped": np.array(len(boxes) - len(keep), np.int64),
    }


def mined_case(
    cache: Path,
    glob: CamClassifier,
    spec: data.CaseSpec,
    manifest: ModelManifest,
    top_k: int,
    shape: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """`mine_case` through the cache (keyed by the global weights and the data plan)."""
    plan = data.cache_key(manifest, 0, 0, shape)  # generator, preprocessing and input geometry
    key = f"mined{MINING_VERSION}_{plan}_{weights_digest(glob)}_{top_k}"
    return data.cached_arrays(
        cache / key / f"case_{spec.seed}.npz",
        lambda: mine_case(glob, spec, manifest, top_k, shape),
    )


_WORKER: dict[str, object] = {}


def _init_worker(
    arrays: dict[str, np.ndarray], arch: dict[str, object], cache: Path, manifest: dict[str, Any]
) -> None:
    torch.set_num_threads(1)
    model = CamClassifier(**arch)  # type: ignore[arg-type]
    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    _WORKER.update(model=model.eval(), cache=cache, manifest=manifest_from_dict(manifest))


def _mine_in_worker(seed: int, top_k: int, shape: tuple[int, int] | None) -> dict[str, np.ndarray]:
    model = _WORKER["model"]
    assert isinstance(model, CamClassifier)
    return mined_case(
        _WORKER["cache"],  # type: ignore[arg-type]
        model,
        data.case_spec(seed),
        _WORKER["manifest"],  # type: ignore[arg-type]
        top_k,
        shape,
    )


def mined_set(
    cache: Path,
    glob: CamClassifier,
    seeds: Sequence[int],
    manifest: ModelManifest,
    top_k: int,
    shape: tuple[int, int] | None = None,
    mass_weight: float = 1.0,
    workers: int = 1,
) -> Batchable:
    """The mined crops of every seed as one training set (``workers`` processes: generating a
    full-size image takes about a second of one core, the global model a tenth of that)."""
    start = time.monotonic()
    cases: list[dict[str, np.ndarray]] = []
    workers = max(1, min(workers, os.cpu_count() or 1, len(seeds)))
    if workers > 1:
        arrays = {k: v.detach().numpy().copy() for k, v in glob.state_dict().items()}
        arch = {
            "in_channels": glob.backbone.in_channels,
            "pooling": glob.pooling,
            "top_k": glob.top_k,
            "widths": glob.backbone.widths,
            "dilations": glob.backbone.dilations,
            "stride": glob.backbone.stride,
        }
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers,
            context,
            initializer=_init_worker,
            initargs=(arrays, arch, cache, manifest.to_dict()),
        ) as pool:
            for i, case in enumerate(
                pool.map(_mine_in_worker, seeds, repeat(top_k), repeat(shape))
            ):
                cases.append(case)
                _progress(i, len(seeds), start)
    else:
        for i, seed in enumerate(seeds):
            cases.append(mined_case(cache, glob, data.case_spec(seed), manifest, top_k, shape))
            _progress(i, len(seeds), start)
    return crop_set(cases, [data.positive_weight(data.case_spec(s), mass_weight) for s in seeds])


def _progress(i: int, n: int, start: float) -> None:
    if (i + 1) % 25 == 0 or i + 1 == n:
        log.info("mined %d/%d images (%.0f s)", i + 1, n, time.monotonic() - start)

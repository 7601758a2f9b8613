"""Batch drawing of the training loop: class balance and per-case positive weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from training.loop import Batchable, StageConfig, _batch

pytestmark = pytest.mark.train


def _data(weights: np.ndarray | None) -> Batchable:
    n = 6
    inputs = np.arange(n, dtype=np.float32)[:, None, None, None] * np.ones((n, 1, 4, 4), np.float32)
    labels = np.array([1, 1, 1, 0, 0, 0], np.float32)
    return Batchable(inputs, labels, np.zeros((n, 1, 1), np.float32), weights)


def _drawn(data: Batchable, batches: int) -> np.ndarray:
    config = StageConfig(epochs=1, batch_size=8, learning_rate=1e-3, dense_weight=0.0)
    rng = np.random.default_rng(0)
    counts = np.zeros(len(data.labels))
    for _ in range(batches):
        x, y, _ = _batch(data, config, rng)
        assert float(y.sum()) == 4.0  # half positives, always
        values = x[:, 0, 1, 1].numpy()  # the gain augmentation scales ids by 0.9-1.1
        for v in values:
            counts[int(np.argmin(np.abs(np.arange(len(counts)) - v)))] += 1
    return counts


def test_positive_weights_set_how_often_each_positive_is_drawn() -> None:
    uniform = _drawn(_data(None), 300)
    weighted = _drawn(_data(np.array([4, 1, 1, 1, 1, 1], np.float32)), 300)
    # uniform: each positive about 1/3 of the 4 positive slots; weighted: the first about 2/3
    assert abs(uniform[0] / uniform[:3].sum() - 1 / 3) < 0.05
    assert abs(weighted[0] / weighted[:3].sum() - 2 / 3) < 0.05
    # negatives are drawn uniformly either way
    assert abs(weighted[3] / weighted[3:].sum() - 1 / 3) < 0.05


def test_command_line_budgets_and_the_mined_stage_switch() -> None:
    from training import config as cfg
    from training.cli import _overrides, _parser

    def run(*extra: str) -> cfg.RunConfig:
        args = _parser().parse_args(["train", "--out", "x", *extra])
        return _overrides(cfg.FULL, args)

    default = run()
    assert default.patch_mined == cfg.FULL.patch_mined
    assert run("--mined-minutes", "0").patch_mined is None
    changed = run("--mined-minutes", "5", "--global-minutes", "7", "--lr-scale", "0.5")
    assert changed.patch_mined is not None and cfg.FULL.patch_mined is not None
    assert changed.patch_mined.max_seconds == 300
    assert changed.patch_mined.learning_rate == cfg.FULL.patch_mined.learning_rate * 0.5
    assert changed.global_.max_seconds == 420
    assert changed.patch.max_seconds == cfg.FULL.patch.max_seconds


def test_mass_cases_and_their_crops_carry_the_mass_weight(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from training import config as cfg
    from training.pipeline import load_cases, stack_sets

    config = dataclasses.replace(cfg.QUICK, mass_weight=3.0)
    cases = load_cases(
        [3, 4, 5], config, cfg.draft_manifest(config), tmp_path
    )  # normal, mass, cluster
    crops_per_case = [len(c["crop_labels"]) for c in cases]
    global_set, patch_set = stack_sets(cases)
    assert global_set.positive_weights is not None and patch_set.positive_weights is not None
    assert global_set.positive_weights.tolist() == [1.0, 3.0, 1.0]
    expected = [w for w, n in zip([1.0, 3.0, 1.0], crops_per_case, strict=True) for _ in range(n)]
    assert patch_set.positive_weights.tolist() == expected


def test_weights_remember_their_dilations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training.models import CamClassifier
    from training.pipeline import load_weights, save_weights

    dilated = CamClassifier(2, dilations=(2, 4))
    save_weights(tmp_path, dilated, dilated)
    load_weights(tmp_path / "global.npz", CamClassifier(2, dilations=(2, 4)))
    with pytest.raises(ValueError, match=r"dilations \(2, 4\)"):
        load_weights(tmp_path / "global.npz", CamClassifier(2))


def test_data_seed_moves_only_the_training_images(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from training import cli, pipeline, run
    from training import config as cfg

    asked: list[list[int]] = []

    class StopError(Exception):
        pass

    def fake_load_cases(seeds, *_):  # type: ignore[no-untyped-def]
        asked.append(list(seeds))
        raise StopError

    monkeypatch.setattr(pipeline, "load_cases", fake_load_cases)
    args = ["train", "--quick", "--out", str(tmp_path / "m"), "--cache", str(tmp_path / "c")]
    for extra, first in (([], 100_000), (["--data-seed", "3"], 130_000)):
        with pytest.raises(StopError):
            cli.main([*args, *extra])
        assert asked[-1][0] == first and len(asked[-1]) == cfg.QUICK.n_train
    # QUICK has 6 training images: data seed 70 would train on validation images 800000-800002
    with pytest.raises(ValueError, match="overlap the validation seeds 800000-800002"):
        cli.main([*args, "--data-seed", "70"])
    with pytest.raises(ValueError, match="overlap the held-out seeds 900000-900002"):
        cli.main([*args, "--data-seed", "80"])
    assert len(asked) == 2  # refused before any image was generated
    with pytest.raises(SystemExit):
        cli.main(["train", "--out", str(tmp_path / "m"), "--csv", "x.csv", "--data-seed", "1"])
    text = run.training_data_text(cfg.FULL, 0, "synthetic", data_seed=1)
    assert "training seeds 110000-110899" in text
    assert "validation seeds 800000-800179" in text and "held-out seeds 900000-900119" in text


def test_a_skipped_global_stage_keeps_the_resumed_global_model_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    import torch

    from training import config as cfg
    from training.models import CamClassifier
    from training.pipeline import load_cases, save_weights, train_models

    quick = cfg.QUICK
    config = dataclasses.replace(
        quick,
        patch=dataclasses.replace(quick.patch, max_seconds=0),
        global_=dataclasses.replace(quick.global_, max_seconds=0),
        patch_mined=None,
    )
    assert config.global_.window_cells is not None  # the case where BatchNorm is recalibrated
    torch.manual_seed(5)
    saved = [CamClassifier(2, widths=config.widths, dilations=config.dilations) for _ in "pg"]
    for model in saved:
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)  # statistics no recalibration would give back
    save_weights(tmp_path / "w", saved[0], saved[1])
    cases = load_cases([3, 4, 5], config, cfg.draft_manifest(config), tmp_path / "cache")
    _, glob, _ = train_models(config, cases, 0, resume=tmp_path / "w")
    for name, value in saved[1].state_dict().items():
        assert torch.equal(glob.state_dict()[name], value), name

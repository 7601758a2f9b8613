"""Batch drawing of the training loop: class balance and per-case positive weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.loop import Batchable, StageConfig, _batch  # noqa: E402

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


def test_command_line_budgets_and_the_mined_and_hard_stage_switches() -> None:
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
    assert cfg.FULL.global_hard is not None
    assert default.global_hard == cfg.FULL.global_hard
    assert run("--hard-minutes", "0").global_hard is None
    hard = run("--hard-minutes", "3").global_hard
    assert hard is not None and hard.max_seconds == 180
    # the dense global stage's options, off in FULL: run 14's recipe without editing config.py
    assert (default.global_.rank_weight, default.global_.peak_targets) == (0.0, False)
    assert (default.small_mass_mm, default.small_mass_weight) == (0.0, 1.0)
    recipe = run(
        "--global-rank-weight", "0.5", "--global-peak-targets", "--small-masses", "10", "3"
    )
    assert (recipe.global_.rank_weight, recipe.global_.peak_targets) == (0.5, True)
    assert (recipe.small_mass_mm, recipe.small_mass_weight) == (10.0, 3.0)
    assert recipe.global_hard == cfg.FULL.global_hard  # the false-positive stage is untouched
    assert recipe.patch == cfg.FULL.patch


def test_mass_cases_and_their_crops_carry_the_mass_weight(tmp_path) -> None:  # type: ignore[no-untyped-def]
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


def test_cover_diameter_is_the_equivalent_circle_of_the_covered_cells() -> None:
    from training.data import cover_diameter_mm

    cover = np.zeros((6, 5), np.float32)
    cover[2, 2] = 1.0
    cover[2, 3] = np.pi - 1.0  # area pi cells of 2 mm: a circle of radius 2 mm
    assert cover_diameter_mm(cover, 2.0) == pytest.approx(4.0, rel=1e-6)
    assert cover_diameter_mm(np.full((6, 5), -1.0, np.float32), 2.0) == 0.0


def test_global_cell_size_follows_the_input_geometry() -> None:
    from training import config as cfg
    from training.pipeline import global_cell_mm

    assert global_cell_mm(cfg.FULL) == pytest.approx(0.07 * 4 * 16)  # 4096 rows -> 1024
    assert global_cell_mm(cfg.QUICK) == pytest.approx(0.28 * 4 * 16)  # 1024 rows -> 256


def test_small_masses_are_drawn_more_often(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training import config as cfg
    from training.data import cover_diameter_mm
    from training.pipeline import global_cell_mm, load_cases

    def weights(small_mm: float) -> list[float]:
        config = dataclasses.replace(
            cfg.QUICK, mass_weight=2.0, small_mass_mm=small_mm, small_mass_weight=5.0
        )
        cases = load_cases([3, 4, 5], config, cfg.draft_manifest(config), tmp_path)
        return [float(c["positive_weight"]) for c in cases]

    config = cfg.QUICK
    mass = load_cases([4], config, cfg.draft_manifest(config), tmp_path)[0]
    size = cover_diameter_mm(mass["global_cover"], global_cell_mm(config))
    assert size > 0
    assert weights(size + 0.01) == [1.0, 10.0, 1.0]  # only the mass case, on top of mass_weight
    assert weights(size - 0.01) == [1.0, 2.0, 1.0]
    assert weights(0.0) == [1.0, 2.0, 1.0]  # off


def test_cases_loaded_without_crops_hold_no_crop_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training import config as cfg
    from training.pipeline import load_cases

    draft = cfg.draft_manifest(cfg.QUICK)
    kept = load_cases([4], cfg.QUICK, draft, tmp_path)[0]
    dropped = load_cases([4], cfg.QUICK, draft, tmp_path, keep_crops=False)[0]
    assert len(kept["crops"]) > 0
    for key in ("crops", "crop_labels", "crop_cover"):
        assert dropped[key].shape == (0, *kept[key].shape[1:])
        assert dropped[key].base is None  # not a view that keeps the loaded array alive
    assert np.array_equal(dropped["global_input"], kept["global_input"])


def test_weights_remember_their_dilations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training.models import CamClassifier
    from training.pipeline import load_weights, save_weights

    dilated = CamClassifier(2, dilations=(2, 4))
    save_weights(tmp_path, dilated, dilated)
    load_weights(tmp_path / "global.npz", CamClassifier(2, dilations=(2, 4)))
    with pytest.raises(ValueError, match=r"dilations \(2, 4\)"):
        load_weights(tmp_path / "global.npz", CamClassifier(2))


def test_weights_remember_their_stride(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training.models import CamClassifier
    from training.pipeline import load_weights, save_weights, saved_stride

    coarse, dense = CamClassifier(2), CamClassifier(2, stride=8)
    save_weights(tmp_path, coarse, dense)
    assert (saved_stride(tmp_path / "patch.npz"), saved_stride(tmp_path / "global.npz")) == (16, 8)
    load_weights(tmp_path / "global.npz", CamClassifier(2, stride=8))
    with pytest.raises(ValueError, match="stride 8, model has 16"):
        load_weights(tmp_path / "global.npz", CamClassifier(2))
    with pytest.raises(ValueError, match="stride 8, model has 4"):
        load_weights(tmp_path / "global.npz", CamClassifier(2, stride=4))
    with pytest.raises(ValueError, match="stride 2"):
        CamClassifier(2, stride=2)


def test_average_weights_is_the_mean_of_every_weight(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training.models import CamClassifier
    from training.pipeline import average_weights, save_weights

    models = []
    for i in range(3):
        torch.manual_seed(i)
        m = CamClassifier(2, widths=(4, 4, 4, 4, 4))
        with torch.no_grad():
            for value in m.state_dict().values():
                if value.is_floating_point():
                    value.uniform_(0.5, 2.0)  # the bias and running statistics too
        m.backbone.body[1].num_batches_tracked.fill_(7 + i)
        save_weights(tmp_path / str(i), m, m)
        models.append(m)
    out = average_weights(
        [tmp_path / str(i) / "global.npz" for i in range(3)], CamClassifier(2, widths=(4,) * 5)
    )
    assert not out.training
    for key, value in out.state_dict().items():
        parts = [m.state_dict()[key] for m in models]
        if value.is_floating_point():
            expected = (parts[0].double() + parts[1].double() + parts[2].double()) / 3
            assert torch.allclose(value.double(), expected, atol=1e-6), key
            assert not torch.equal(parts[0], parts[1]), key  # a real mean, not a copy
        else:
            assert torch.equal(value, parts[0]), key
    with pytest.raises(ValueError, match="no weight files"):
        average_weights([], CamClassifier(2, widths=(4,) * 5))


def test_average_weights_reads_a_coarser_run_on_the_finer_grid(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A stride-16 run's global weights and a stride-8 run from them average into a stride-8
    model (the same tensors, read on the finer grid); a finer file than the model is refused."""
    from training.models import CamClassifier
    from training.pipeline import average_weights, save_weights, saved_stride

    widths = (4,) * 5
    coarse, fine = CamClassifier(2, widths=widths), CamClassifier(2, widths=widths, stride=8)
    torch.manual_seed(3)
    with torch.no_grad():
        for value in fine.state_dict().values():
            if value.is_floating_point():
                value.uniform_(0.5, 2.0)
    save_weights(tmp_path / "c", coarse, coarse)
    save_weights(tmp_path / "f", fine, fine)
    assert saved_stride(tmp_path / "c" / "global.npz") == 16
    paths = [tmp_path / "c" / "global.npz", tmp_path / "f" / "global.npz"]
    out = average_weights(paths, CamClassifier(2, widths=widths, stride=8))
    assert out.backbone.stride == 8
    for key, value in out.state_dict().items():
        if value.is_floating_point():
            expected = (coarse.state_dict()[key].double() + fine.state_dict()[key].double()) / 2
            assert torch.allclose(value.double(), expected, atol=1e-6), key
    with pytest.raises(ValueError, match="stride 8, model has 16"):
        average_weights(paths, CamClassifier(2, widths=widths))


def test_data_seed_moves_only_the_training_images(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from training import cli, pipeline, run
    from training import config as cfg

    asked: list[list[int]] = []

    class StopError(Exception):
        pass

    def fake_load_cases(seeds, *_, **__):  # type: ignore[no-untyped-def]
        asked.append(list(seeds))
        raise StopError

    monkeypatch.setattr(pipeline, "load_cases", fake_load_cases)
    args = ["train", "--quick", "--out", str(tmp_path / "m"), "--cache", str(tmp_path / "c")]
    for extra, first in (([], 100_000), (["--data-seed", "3"], 130_000)):
        with pytest.raises(StopError):
            cli.main([*args, *extra])
        assert asked[-1][0] == first and len(asked[-1]) == cfg.QUICK.n_train
    with pytest.raises(StopError):  # several data seeds: one set of all their images
        cli.main([*args, "--data-seed", "3", "4"])
    n = cfg.QUICK.n_train
    assert asked[-1] == [*range(130_000, 130_000 + n), *range(140_000, 140_000 + n)]
    # QUICK has 6 training images: data seed 70 would train on validation images 800000-800002
    with pytest.raises(ValueError, match="overlap the validation seeds 800000-800002"):
        cli.main([*args, "--data-seed", "70"])
    with pytest.raises(ValueError, match="overlap the held-out seeds 900000-900002"):
        cli.main([*args, "--data-seed", "80"])
    with pytest.raises(ValueError, match="training seeds 800000-800002 overlap the validation"):
        cli.main([*args, "--data-seed", "3", "70"])  # one bad data seed of two is enough
    assert len(asked) == 3  # refused before any image was generated
    with pytest.raises(SystemExit):
        cli.main(["train", "--out", str(tmp_path / "m"), "--csv", "x.csv", "--data-seed", "1"])
    text = run.training_data_text(cfg.FULL, 0, data_seed=1)
    assert "training seeds 110000-110899 (900 images" in text and "no real patient" in text


def test_a_skipped_global_stage_keeps_the_resumed_global_model_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from training import config as cfg
    from training.models import CamClassifier
    from training.pipeline import load_cases, save_weights, train_models

    quick = cfg.QUICK
    config = dataclasses.replace(
        quick,
        patch=dataclasses.replace(quick.patch, max_seconds=0),
        global_=dataclasses.replace(quick.global_, max_seconds=0),
        patch_mined=None,
        global_hard=None,
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


class _FixedCam(torch.nn.Module):  # type: ignore[misc]
    """Returns a given CAM for every input (logit unused by `hard_cells`)."""

    def __init__(self, cam: np.ndarray) -> None:
        super().__init__()
        self.cam = torch.from_numpy(cam)

    def forward(self, x):  # type: ignore[no-untyped-def]
        n = x.shape[0]
        return torch.zeros(n, 1), self.cam.expand(n, 1, *self.cam.shape)


def test_hard_cells_are_the_strongest_peaks_away_from_lesions_and_outside_nothing() -> None:
    from training.loop import hard_cells

    stride, h, w = 4, 12, 12
    inputs = np.zeros((2, 1, h * stride, w * stride), np.float32)
    inputs[:, :, :, : 10 * stride] = 1.0  # breast: cell columns 0-9
    targets = np.zeros((2, h, w), np.float32)
    targets[0, 2, 2] = 0.5  # a lesion cell in image 0
    targets[1] = -1.0  # image 1: lesion cells unknown, skipped
    cam = np.zeros((h, w), np.float32)
    cam[2, 2] = 9.0  # the lesion itself
    cam[4, 5] = 8.0  # 3 cells from the lesion: inside the exclusion of 3
    cam[5, 11] = 7.0  # outside the breast
    cam[9, 8] = 6.0  # the strongest false positive
    cam[10, 9] = 5.0  # next to it: suppressed
    cam[2, 8] = 4.0  # the second false positive
    cam[6, 2] = 3.0  # 4 cells below the lesion: just outside the exclusion of 3, third
    data = Batchable(inputs, np.array([1, 0], np.float32), targets)
    rows = hard_cells(_FixedCam(cam), data, per_image=2, exclusion=3)  # type: ignore[arg-type]
    assert rows.tolist() == [[0, 9, 8], [0, 2, 8]]
    more = hard_cells(_FixedCam(cam), data, per_image=6, exclusion=3)  # type: ignore[arg-type]
    assert more[:3].tolist() == [*rows.tolist(), [0, 6, 2]]
    assert len(more) == 5  # the breast has room for no sixth cell that far from the others
    for _, r, c in more:  # never near the lesion, never outside the breast, 4 cells apart
        assert max(abs(r - 2), abs(c - 2)) > 3 and c < 10
    cells = more[:, 1:]
    gaps = [np.abs(cells[i] - cells[j]).max() for i in range(len(cells)) for j in range(i)]
    assert min(gaps) > 3


def test_hard_windows_hold_their_cell_and_are_labelled_by_what_they_contain() -> None:
    stride, h, w = 4, 12, 12
    n = 3
    # channel 1 (left alone by the gain augmentation) names each cell: 1000 * image + 10 * row
    # + column, so a window says where it came from
    inputs = np.ones((n, 2, h * stride, w * stride), np.float32)
    rows, cols = np.mgrid[0:h, 0:w]
    for i in range(n):
        inputs[i, 1] = np.kron(1000 * i + 10 * rows + cols, np.ones((stride, stride)))
    targets = np.zeros((n, h, w), np.float32)
    targets[0, 1, 1] = 1.0  # image 0 has a lesion cell at (1, 1)
    labels = np.array([1, 0, 0], np.float32)
    hard = np.array([[0, 10, 10], [1, 6, 6]], np.int64)  # far from image 0's lesion; image 1
    data = Batchable(inputs, labels, targets, hard_cells=hard)
    config = StageConfig(
        epochs=1, batch_size=8, learning_rate=1e-3, dense_weight=1.0,
        window_cells=(4, 4), hard_fraction=0.5,
    )  # fmt: skip
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(50):
        x, y, t = _batch(data, config, rng)
        assert x.shape == (8, 2, 16, 16) and y[:4].tolist() == [1.0] * 4
        for k in range(4, 8):  # the hard half (no random negatives left): windows at hard cells
            ids = set(x[k, 1].numpy().astype(int).ravel().tolist())
            held = {c for c in (110, 1066) if c in ids}
            assert len(held) == 1
            seen |= held
            assert float(y[k]) == 0.0 and float(t[k].max()) == 0.0  # no lesion in them
    assert seen == {110, 1066}  # both hard cells were used
    # a hard window that holds a lesion cell is a positive
    near = Batchable(inputs, labels, targets, hard_cells=np.array([[0, 2, 2]], np.int64))
    labels_seen = set()
    for _ in range(20):
        _, y, t = _batch(near, config, rng)
        for k in range(4, 8):
            assert float(y[k]) == float(t[k].max() > 0)
            labels_seen.add(float(y[k]))
    assert labels_seen == {0.0, 1.0}  # (2, 2) is 1 cell from the lesion: windows with and without


def test_the_false_positive_stage_skips_without_peaks_and_recalibrates_batchnorm() -> None:
    from training import config as cfg
    from training.models import CamClassifier
    from training.pipeline import _hard_stage

    config = cfg.QUICK
    assert config.global_hard is not None and config.global_hard.window_cells is not None
    h, w = 4 * config.global_hard.window_cells[0], 4 * config.global_hard.window_cells[1]
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(4, 2, 16 * h, 16 * w)).astype(np.float32)
    labels = np.array([1, 1, 0, 0], np.float32)
    torch.manual_seed(0)
    model = CamClassifier(2, widths=config.widths)
    # every lesion cell unknown (a CSV run with label-only rows): nothing to mine, nothing trained
    unknown = Batchable(inputs, labels, np.full((4, h, w), -1.0, np.float32))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history, info = _hard_stage(model, unknown, config, seed=0)
    assert history == [] and info == {"global_hard_peaks": 0}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # with known cells: peaks mined, trained, and BatchNorm statistics re-estimated afterwards
    targets = np.zeros((4, h, w), np.float32)
    targets[:2, 3, 3] = 1.0
    known = Batchable(inputs, labels, targets)
    history, info = _hard_stage(model, known, config, seed=0)
    assert len(history) == 1 and info["global_hard_peaks"] == 4 * config.hard_per_image
    assert info["global_hard_peaks_in_lesion_images"] == 2 * config.hard_per_image
    norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert norm.momentum is None  # the cumulative average of `recalibrate_batchnorm`
    with pytest.raises(ValueError, match="hard_fraction 0"):
        broken = dataclasses.replace(config.global_hard, hard_fraction=0.0)
        _hard_stage(model, known, dataclasses.replace(config, global_hard=broken), seed=0)


def test_peak_targets_make_every_lesions_best_cell_a_full_positive() -> None:
    from training.loop import PEAK_REACH, lesion_peak_targets

    t = torch.zeros(2, 20, 20)
    t[0, 2, 2], t[0, 2, 3], t[0, 3, 2] = 0.4, 0.2, 0.1  # a small lesion across a cell corner
    t[0, 2, 4], t[0, 2, 5] = 0.15, 0.1  # its tail: 3 cells from its best cell, still its own
    t[0, 15, 15], t[0, 15, 16] = 1.0, 0.5  # a large one, farther than PEAK_REACH away
    assert PEAK_REACH == 3
    t[1] = -1.0  # unknown cells (a label-only row)
    out = lesion_peak_targets(t)
    assert torch.allclose(out[0, 2, 2:6], torch.tensor([1.0, 0.5, 0.375, 0.25]))
    assert float(out[0, 3, 2]) == pytest.approx(0.25)
    assert torch.equal(out[0, 15, 15:17], torch.tensor([1.0, 0.5]))  # not scaled by the other
    total = 1.0 + 0.5 + 0.375 + 0.25 + 0.25 + 1.0 + 0.5
    assert float(out[0].sum()) == pytest.approx(total)  # zeros stay 0
    assert torch.equal(out[1], t[1])


def test_rank_loss_is_the_pointing_game_margin_and_ignores_the_lesion_rim() -> None:
    from training.loop import RANK_MARGIN, rank_loss

    t = torch.zeros(5, 8, 8)
    t[0, 4, 4] = 1.0
    t[2, 4, 4], t[2, 0, 7] = 1.0, -1.0  # partly unknown: does not count
    t[3] = 1.0  # the lesion fills the window, nothing "elsewhere": does not count either
    t[4] = -1.0  # unknown
    cam = torch.zeros(5, 8, 8)
    cam[0, 4, 4] = 2.0
    cam[0, 4, 5] = 9.0  # the rim, next to the lesion: not "elsewhere"
    cam[0, 0, 0] = 1.5  # the best cell elsewhere
    cam[1, 0, 0] = 50.0  # image 1 has no lesion: its peak is not ranked here
    cam[2, 0, 0] = cam[3, 0, 0] = cam[4, 0, 0] = 50.0
    softplus = torch.nn.functional.softplus
    expected = softplus(torch.tensor(RANK_MARGIN + 1.5 - 2.0))
    assert float(rank_loss(cam, t)) == pytest.approx(float(expected))  # image 0 alone
    cam[0, 4, 6] = 1.9  # two cells from the lesion: elsewhere, and the best there now
    assert float(rank_loss(cam, t)) == pytest.approx(float(softplus(torch.tensor(0.9))))
    cam[0, 0, 0] = 5.0  # a far peak above the lesion costs more
    assert float(rank_loss(cam, t)) > float(expected) + 2.0
    assert float(rank_loss(cam, torch.zeros(5, 8, 8))) == 0.0  # no lesion anywhere: nothing


def test_the_rank_term_adds_to_the_loss_and_one_step_raises_the_lesion_above_the_rest() -> None:
    from training.loop import _loss, rank_loss
    from training.models import CamClassifier

    torch.manual_seed(0)
    model = CamClassifier(2, widths=(8, 8, 8, 8, 8)).eval()  # eval: BatchNorm fixed
    x = torch.randn(2, 2, 128, 128)
    y = torch.tensor([1.0, 0.0])
    t = torch.zeros(2, 8, 8)
    t[0, 5, 2] = 1.0
    plain = _loss(model, x, y, t, 1.0)
    ranked = _loss(model, x, y, t, 1.0, rank_weight=0.5)
    cam = model(x)[1][:, 0]
    assert (ranked - plain).item() == pytest.approx(0.5 * rank_loss(cam, t).item(), rel=1e-5)

    def gap() -> float:
        c = model(x)[1][0, 0]
        return (c[5, 2] - c.masked_fill(t[0] > 0, -1e9).max()).item()

    before = gap()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        rank_loss(model(x)[1][:, 0], t).backward()
        opt.step()
    assert gap() > before


def test_peak_targets_reach_the_dense_loss_and_both_options_reach_it_from_a_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from training import loop
    from training.models import CamClassifier

    torch.manual_seed(0)
    model = CamClassifier(2, widths=(8, 8, 8, 8, 8)).eval()
    x = torch.randn(2, 2, 128, 128)
    y = torch.tensor([1.0, 0.0])
    t = torch.zeros(2, 8, 8)
    t[0, 5, 2], t[0, 5, 3] = 0.4, 0.2
    with torch.no_grad():
        normalized = loop._loss(model, x, y, t, 1.0, peak_targets=True)
        by_hand = loop._loss(model, x, y, loop.lesion_peak_targets(t), 1.0)
        plain = loop._loss(model, x, y, t, 1.0)
    assert normalized.item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert normalized.item() != pytest.approx(plain.item(), rel=1e-3)
    with pytest.raises(ValueError, match="do not match CAM"):  # checked for the rank term too
        loop._loss(model, x, y, torch.zeros(2, 4, 4), 0.0, rank_weight=0.5)

    seen: list[tuple[bool, float]] = []
    real = loop._loss

    def spy(*args: object) -> torch.Tensor:
        seen.append((bool(args[5]), float(args[6])))  # type: ignore[arg-type]
        return real(*args)  # type: ignore[arg-type]

    data = Batchable(
        np.random.default_rng(0).normal(size=(4, 2, 128, 128)).astype(np.float32),
        np.array([1, 1, 0, 0], np.float32),
        np.stack([t[0].numpy()] * 2 + [np.zeros((8, 8), np.float32)] * 2),
    )
    config = StageConfig(
        epochs=1, batch_size=4, learning_rate=1e-3, dense_weight=1.0, peak_targets=True,
        rank_weight=0.25,
    )  # fmt: skip
    monkeypatch.setattr(loop, "_loss", spy)
    loop.train_stage(model, data, config, seed=0, name="spy")
    assert seen and set(seen) == {(True, 0.25)}

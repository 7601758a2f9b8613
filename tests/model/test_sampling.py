"""The screen sampler: area reduction, tiles of the visible region, the LUT over a tile."""

import numpy as np
import pytest

from viewer.model import ScreenSampler, area_reduce, reduction_step
from viewer.model.sampling import fit_step, lut_index


def test_reduction_step_never_goes_below_real_pixels() -> None:
    assert reduction_step(4.0) == 1
    assert reduction_step(1.0) == 1
    assert reduction_step(0.5) == 2
    assert reduction_step(0.29) == 3


def test_area_reduce_is_the_block_mean_including_partial_edge_blocks() -> None:
    pixels = np.arange(7 * 5, dtype=np.uint16).reshape(7, 5)
    reduced = area_reduce(pixels, 3)
    assert reduced.shape == (3, 2) and reduced.dtype == np.uint16
    assert reduced[0, 0] == round(pixels[:3, :3].mean())
    assert reduced[2, 1] == round(pixels[6:, 3:].mean())  # a 1 x 2 corner block
    rgb = np.stack([pixels, pixels, pixels], axis=-1).astype(np.uint8)
    assert area_reduce(rgb, 2).shape == (4, 3, 3)


def test_tile_covers_the_visible_region_at_screen_resolution() -> None:
    frames = np.random.default_rng(1).integers(0, 4096, (1, 4096, 3328), dtype=np.uint16)
    sampler = ScreenSampler(frames)
    zoom = 1200 / 4096
    tile = sampler.tile(0, (0.0, -300.0, 4096.0, 3628.0), zoom)
    assert tile.step == 3
    row0, col0, rows, cols = tile.rect
    assert (row0, col0) == (0, 0)
    assert rows == pytest.approx(4096, abs=1 / zoom) and cols == pytest.approx(3328, abs=1 / zoom)
    assert tile.data.shape == (1200, 975)  # one value per screen pixel: drawn unscaled
    assert rows / tile.data.shape[0] == pytest.approx(1 / zoom)
    assert sampler.tile(0, (0.0, -300.0, 4096.0, 3628.0), zoom) is tile  # cached
    level = sampler.level(0, 3)
    # screen pixel (i, j) shows the block mean under its center
    i, j = 600, 400
    assert tile.data[i, j] == level[int((i + 0.5) / zoom) // 3, int((j + 0.5) / zoom) // 3]


def test_screen_tile_of_a_zoomed_out_part_is_clipped_to_the_image() -> None:
    frames = np.arange(100 * 80, dtype=np.uint16).reshape(1, 100, 80)
    tile = ScreenSampler(frames).tile(0, (50.0, -20.0, 150.0, 60.0), 0.5)
    assert tile.rect == (50.0, 0.0, 50.0, 60.0)
    assert tile.data.shape == (25, 30)
    assert tile.data[0, 0] == area_reduce(frames[0], 2)[25, 0]


def test_tile_at_zoom_above_one_holds_the_real_stored_pixels() -> None:
    frames = np.random.default_rng(2).integers(0, 4096, (1, 500, 400), dtype=np.uint16)
    tile = ScreenSampler(frames).tile(0, (100.2, 50.5, 150.7, 90.1), 8.0)
    row0, col0, rows, cols = (int(v) for v in tile.rect)
    assert tile.step == 1 and tile.rect == (row0, col0, rows, cols)
    np.testing.assert_array_equal(tile.data, frames[0, row0 : row0 + rows, col0 : col0 + cols])
    assert row0 <= 100 and row0 + rows >= 151 and col0 <= 50 and col0 + cols >= 91


def test_render_applies_the_table_with_offset_and_clips_out_of_range_values() -> None:
    frames = np.array([[[-5, 0, 10, 2000]]], dtype=np.int16)
    sampler = ScreenSampler(frames)
    tile = sampler.tile(0, (0, 0, 1, 4), 1.0)
    table = np.arange(16, dtype=np.uint8) * 10  # covers stored -3 .. 12
    rendered = sampler.render(tile, -3, table)
    np.testing.assert_array_equal(rendered, [[0, 30, 130, 150]])
    np.testing.assert_array_equal(lut_index(tile, -3, 16), [[0, 3, 13, 15]])


def test_levels_are_cached_and_bounded() -> None:
    frames = np.zeros((1, 64, 64), dtype=np.uint16)
    sampler = ScreenSampler(frames, max_levels=2)
    first = sampler.level(0, 2)
    assert sampler.level(0, 2) is first
    sampler.level(0, 3)
    sampler.level(0, 4)
    assert sampler.level(0, 2) is not first  # evicted, recomputed
    assert np.shares_memory(sampler.level(0, 1), frames)  # step 1: no copy
    with pytest.raises(IndexError):
        sampler.level(1, 2)


def test_seeded_levels_are_used_and_fit_step_matches_the_fitted_zoom() -> None:
    frames = np.zeros((1, 4096, 3328), dtype=np.uint16)
    step = fit_step((4096, 3328), (1600, 1200))
    assert step == reduction_step(1200 / 4096) == 3
    seeded = area_reduce(frames[0], step)
    sampler = ScreenSampler(frames, levels={(0, step): seeded})
    assert sampler.level(0, step) is seeded


def test_deferred_levels_show_a_strided_stand_in_until_the_average_arrives() -> None:
    frames = np.random.default_rng(3).integers(0, 4096, (1, 300, 240), dtype=np.uint16)
    sampler = ScreenSampler(frames, deferred=True)
    visible = (0.0, 0.0, 300.0, 240.0)
    first = sampler.tile(0, visible, 0.3)
    assert sampler.missing_levels == {(0, 3)}
    assert first.data[0, 0] == frames[0, 0, 0]  # every 3rd pixel, not averaged
    sampler.add_level((0, 3), area_reduce(frames[0], 3))
    assert not sampler.missing_levels
    second = sampler.tile(0, visible, 0.3)
    assert second is not first
    assert second.data[0, 0] == area_reduce(frames[0], 3)[0, 0]

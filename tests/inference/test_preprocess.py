"""Breast mask, canonical orientation, shrinking, channels."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from inference.manifest import manifest_from_dict
from inference.prepare import canonical_region, crop_batch, prepare_image
from inference.preprocess import is_flipped, segment_breast, shrink_max, shrink_mean
from tests.inference.testmodels import mammogram, manifest_dict

HP = [{"kind": "intensity"}, {"kind": "highpass_max", "sigma_mm": 0.5, "scale": 1.0}]


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_mask_excludes_burned_in_label_and_background(laterality: str) -> None:
    image = mammogram(laterality, "CC")
    small = shrink_mean(image, 4, is_flipped(laterality))
    mask = segment_breast(small)
    # label rows 20:60, 100 px wide in the corner away from the chest wall: canonical right side
    assert not mask[5:15, -30:-5].any()
    assert not mask[:, -10:].any() and not mask[-8:, -60:].any()  # background corners
    assert mask[128, 5] and mask[100, 60]  # chest wall and tissue
    assert 0.35 < mask.mean() < 0.6


def test_shrink_mean_is_binshrink() -> None:
    image = np.random.default_rng(0).random((103, 86)).astype(np.float32)
    ours = shrink_mean(image, 4, flipped=False)
    theirs = sitk.GetArrayFromImage(sitk.BinShrink(sitk.GetImageFromArray(image), [4, 4]))
    assert ours.shape == theirs.shape == (25, 21)
    assert np.abs(ours - theirs).max() < 1e-5


def test_flipped_shrink_equals_shrink_of_flipped_image() -> None:
    image = np.random.default_rng(1).random((101, 87)).astype(np.float32)
    flipped = np.ascontiguousarray(image[:, ::-1])
    assert np.array_equal(shrink_max(image, 3, True), shrink_max(flipped, 3, False))
    assert np.abs(shrink_mean(image, 3, True) - shrink_mean(flipped, 3, False)).max() < 1e-6


def test_orientation_from_laterality_and_fallback() -> None:
    assert is_flipped("R") and not is_flipped("L")
    assert is_flipped("", mammogram("R", label=False)[::16, ::16])
    assert not is_flipped("", mammogram("L", label=False)[::16, ::16])


def test_canonical_region_of_a_right_breast_is_mirrored() -> None:
    image = mammogram("R", label=False)
    prep = prepare_image(image, manifest_from_dict(manifest_dict((256, 208), 64, HP)), 0.07, "R")
    region = canonical_region(image, prep.transform, (10, 0, 20, 30))
    assert np.array_equal(region, image[10:20, -30:][:, ::-1])
    assert prep.transform.to_original_box((10, 0, 20, 30)) == (10, 802, 20, 832)


def test_highpass_channel_keeps_a_tiny_speck() -> None:
    image = mammogram("L", lesion_rc=None, label=False)
    image[500:502, 200:202] += 400  # a 2 x 2 px calcification, smaller than one grid cell
    manifest = manifest_from_dict(manifest_dict((256, 208), 64, HP))
    prep = prepare_image(image, manifest, 0.07, "L")
    hp = prep.global_input[0, 1]
    assert np.unravel_index(np.argmax(hp), hp.shape) == (125, 50)
    assert hp[125, 50] > 3 * np.percentile(hp[hp > 0], 99)  # block mean would give 1/16
    crops = crop_batch(prep, [(468, 168, 532, 232)], manifest)
    assert np.unravel_index(np.argmax(crops[0, 1]), (64, 64)) in {(32, 32), (32, 33), (33, 32)}


def test_intensity_normalization_maps_breast_percentiles() -> None:
    image = mammogram("L", label=False)
    manifest = manifest_from_dict(manifest_dict((256, 208), 64, HP))
    prep = prepare_image(image, manifest, 0.07, "L")
    x = prep.global_input[0, 0]
    inside = x[x != 0]
    assert abs(np.percentile(inside, 50) - 0.5) < 0.5
    assert x[0, -1] == 0  # background
    assert prep.global_input.shape == (1, 2, 256, 208) and prep.global_input.dtype == np.float32


def test_non_float_input_is_refused() -> None:
    from inference import InputImageError

    manifest = manifest_from_dict(manifest_dict((256, 208), 64, HP))
    with pytest.raises(InputImageError, match="float32"):
        prepare_image(np.zeros((64, 64), np.uint16), manifest, 0.07, "L")


def test_crop_padding_equals_the_background_value() -> None:
    data = manifest_dict((256, 208), 64, HP)
    data["normalization"].update(mean=0.25, std=0.5)
    manifest = manifest_from_dict(data)
    image = mammogram("L", shape=(200, 150), label=False)
    prep = prepare_image(image, manifest, 0.07, "L")
    crops = crop_batch(prep, [(0, 100, 40, 150)], manifest, batch=2)
    assert crops.shape == (2, 2, 64, 64)
    background = (0 - 0.25) / 0.5
    assert np.all(crops[0, 0, 40:, :] == background) and np.all(crops[0, 0, :, 50:] == background)
    assert np.all(crops[1, 0] == background) and np.all(crops[:, 1, 40:, :] == 0)
    assert prep.global_input[0, 0, -1, -1] == background


def test_mask_fills_dark_holes_inside_the_breast() -> None:
    image = mammogram("L", lesion_rc=None, label=False)
    image[480:560, 150:230] = 60  # a background-dark region enclosed by breast tissue
    small = shrink_mean(image, 4, False)
    mask = segment_breast(small)
    assert mask[130, 47] and mask[120:140, 38:57].all()

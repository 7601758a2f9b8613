"""The synthetic mammogram generator, the demo study it writes, and `mammolens demo`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from viewer.commands import demo as demo_command
from viewer.dicomio.synthetic import (
    RANDOM_LESION_COUNT_PROBABILITIES,
    DemoStudy,
    LesionKind,
    SyntheticParameterError,
    generate_mammogram,
    lesion_mask,
    write_demo_study,
)
from viewer.dicomio.synthetic_font import render_text
from viewer.dicomio.synthetic_study import (
    DEMO_VIEWS,
    MG_FOR_PRESENTATION,
    TEXT_SCALE,
    burned_in_lines,
    demo_uid,
    load_demo_study,
    stored_pixels,
)

SMALL = {"shape": (512, 416), "pixel_spacing_mm": 0.56}
BOTH = [LesionKind.MASS, LesionKind.CALCIFICATION_CLUSTER]


def _polygon_area(outline: tuple[tuple[float, float], ...]) -> float:
    pts = np.asarray(outline)
    y, x = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


# --- the generator ---------------------------------------------------------------------------


def test_same_seed_gives_identical_image_and_truth() -> None:
    a = generate_mammogram(7, "L", "MLO", lesions=BOTH, **SMALL)
    b = generate_mammogram(7, "L", "MLO", lesions=BOTH, **SMALL)
    assert np.array_equal(a.pixels, b.pixels)
    assert np.array_equal(a.breast_mask, b.breast_mask)
    assert a.lesions == b.lesions


def test_other_seed_laterality_or_view_gives_another_image() -> None:
    base = generate_mammogram(7, "L", "CC", **SMALL).pixels
    for other in (
        generate_mammogram(8, "L", "CC", **SMALL),
        generate_mammogram(7, "R", "CC", **SMALL),
        generate_mammogram(7, "L", "MLO", **SMALL),
    ):
        assert np.mean(base != other.pixels) > 0.3


def test_lesions_do_not_change_the_breast_around_them() -> None:
    plain = generate_mammogram(11, "R", "CC", lesions="none", **SMALL)
    with_mass = generate_mammogram(11, "R", "CC", lesions=[LesionKind.MASS], **SMALL)
    changed = plain.pixels != with_mass.pixels
    (mass,) = with_mass.lesions
    near = np.zeros_like(changed)
    cy, cx = (int(v) for v in mass.center_yx)
    reach = int(3 * mass.radius_px) + 2
    near[max(0, cy - reach) : cy + reach, max(0, cx - reach) : cx + reach] = True
    assert changed.any()
    assert not (changed & ~near).any()


def test_spicules_stop_at_the_skin_and_the_pectoral_muscle() -> None:
    plain = generate_mammogram(0, "L", "MLO", lesions="none", **SMALL)
    spiculated = generate_mammogram(0, "L", "MLO", lesions=[LesionKind.MASS], **SMALL)
    assert spiculated.lesions[0].shape == "spiculated"
    assert spiculated.pectoral_mask is not None
    changed = plain.pixels != spiculated.pixels
    assert changed.sum() > lesion_mask(spiculated).sum()  # the spicules reach beyond the outline
    assert not (changed & ~spiculated.breast_mask).any()
    assert not (changed & spiculated.pectoral_mask).any()


def test_pixels_are_12_bit_monochrome2_with_a_dark_background() -> None:
    m = generate_mammogram(3, "L", "CC", **SMALL)
    assert m.pixels.dtype == np.uint16 and m.pixels.shape == (512, 416)
    assert int(m.pixels.max()) <= 4095
    background, breast = m.pixels[~m.breast_mask], m.pixels[m.breast_mask]
    assert background.mean() < 40 and 0 < background.std() < 10
    assert breast.mean() > 600
    assert 0.2 < m.breast_mask.mean() < 0.9


@pytest.mark.parametrize("view", ["CC", "MLO"])
def test_chest_wall_is_on_the_left_for_l_and_on_the_right_for_r(view: str) -> None:
    left = generate_mammogram(5, "L", view, **SMALL)
    right = generate_mammogram(5, "R", view, **SMALL)
    assert left.breast_mask[:, 0].mean() > 0.5 and not left.breast_mask[:, -1].any()
    assert right.breast_mask[:, -1].mean() > 0.5 and not right.breast_mask[:, 0].any()


def test_mlo_has_a_bright_pectoral_triangle_in_the_upper_chest_wall_corner() -> None:
    for laterality, wall in (("L", 0), ("R", -1)):
        m = generate_mammogram(5, laterality, "MLO", **SMALL)
        assert m.pectoral_mask is not None and m.pectoral_mask.any()
        assert m.pectoral_mask[0, wall] and not m.pectoral_mask[-1, wall]
        assert not (m.pectoral_mask & ~m.breast_mask).any()
        tissue = m.breast_mask & ~m.pectoral_mask
        assert m.pixels[m.pectoral_mask].mean() > m.pixels[tissue].mean()
    cc = generate_mammogram(5, "L", "CC", **SMALL)
    assert cc.pectoral_mask is not None and not cc.pectoral_mask.any()


@pytest.mark.parametrize("seed", range(12))
def test_lesions_lie_inside_the_breast_clear_of_the_pectoral(seed: int) -> None:
    view = "MLO" if seed % 2 else "CC"
    m = generate_mammogram(seed, "LR"[seed % 3 % 2], view, lesions=BOTH, **SMALL)
    assert [lesion.kind for lesion in m.lesions] == BOTH
    assert m.pectoral_mask is not None
    for lesion in m.lesions:
        mask = lesion_mask(m, lesion)
        assert mask.any()
        assert not (mask & ~m.breast_mask).any()
        assert not (mask & m.pectoral_mask).any()


def test_lesion_masks_match_the_truth_geometry() -> None:
    m = generate_mammogram(21, "R", "CC", lesions=BOTH)
    total = np.zeros_like(m.breast_mask)
    for lesion in m.lesions:
        mask = lesion_mask(m, lesion)
        total |= mask
        ys, xs = np.nonzero(mask)
        assert abs(ys.mean() - lesion.center_yx[0]) < 0.1 * lesion.radius_px
        assert abs(xs.mean() - lesion.center_yx[1]) < 0.1 * lesion.radius_px
        assert mask.sum() == pytest.approx(_polygon_area(lesion.outline_yx), rel=0.02)
        assert lesion.size_mm == pytest.approx(2 * lesion.radius_px * m.pixel_spacing_mm)
        if lesion.kind == LesionKind.MASS:
            assert 5.0 <= lesion.size_mm <= 20.0
        else:
            assert 5.0 <= lesion.size_mm <= 15.0
            assert 5 <= len(lesion.specks_yx) <= 30
            assert all(0.2 <= d <= 0.6 for d in lesion.speck_diameters_mm)
            assert all(mask[round(y), round(x)] for y, x in lesion.specks_yx)
    assert np.array_equal(lesion_mask(m), total)


def test_masses_are_subtle_and_calcifications_vanish_when_downsampled() -> None:
    masses, specks, specks_8x = [], [], []
    for seed in (1, 2, 3):
        m = generate_mammogram(seed, "L", "CC" if seed % 2 else "MLO", lesions=BOTH)
        mass, cluster = m.lesions
        masses.append(mass.contrast)
        specks.append(cluster.contrast)
        specks_8x.append(cluster.contrast_8x)
    assert all(0.3 < z < 3.5 for z in masses), masses
    assert all(z > 2.0 for z in specks), specks
    assert all(z8 < z / 2 for z, z8 in zip(specks, specks_8x, strict=True)), specks_8x


def test_random_lesions_follow_the_documented_probabilities() -> None:
    counts = np.zeros(3)
    kinds: list[LesionKind] = []
    for seed in range(120):
        m = generate_mammogram(
            seed, "L", "CC", lesions="random", shape=(256, 208), pixel_spacing_mm=1.12
        )
        counts[len(m.lesions)] += 1
        kinds += [lesion.kind for lesion in m.lesions]
    expected = np.array(RANDOM_LESION_COUNT_PROBABILITIES) * 120
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected)), counts
    assert 0.3 < kinds.count(LesionKind.MASS) / len(kinds) < 0.7


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1, "laterality": "B"}, "laterality"),
        ({"seed": 1, "view": "ML"}, "view"),
        ({"seed": 1, "shape": (10, 10)}, "shape"),
        ({"seed": 1, "pixel_spacing_mm": 0.0}, "pixel_spacing_mm"),
        ({"seed": 1, "lesions": "some"}, "lesions"),
        ({"seed": 1, "lesions": ["tumour"]}, "lesions"),
    ],
)
def test_bad_arguments_raise_a_typed_error_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(SyntheticParameterError) as info:
        generate_mammogram(**{**SMALL, **kwargs})
    assert info.value.field == field
    assert field in str(info.value) and "expected" in str(info.value)


# --- the demo study ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory: pytest.TempPathFactory) -> DemoStudy:
    return write_demo_study(tmp_path_factory.mktemp("demo"), seed=2026)


@pytest.fixture(scope="session")
def demo_files(demo_study: DemoStudy) -> dict[str, pydicom.Dataset]:
    return {p.stem: pydicom.dcmread(p) for p in demo_study.image_paths}


@pytest.fixture(scope="session")
def demo_truth(demo_study: DemoStudy) -> dict:
    return json.loads(demo_study.truth_path.read_text(encoding="utf-8"))


def test_demo_study_has_four_mammography_views(demo_files: dict[str, pydicom.Dataset]) -> None:
    assert list(demo_files) == ["RCC", "LCC", "RMLO", "LMLO"]
    codes = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
    for name, ds in demo_files.items():
        assert ds.SOPClassUID == MG_FOR_PRESENTATION == ds.file_meta.MediaStorageSOPClassUID
        assert ds.Modality == "MG" and ds.PresentationIntentType == "FOR PRESENTATION"
        assert (ds.Rows, ds.Columns) == (4096, 3328)
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (
            16,
            12,
            11,
            0,
        )
        assert [float(v) for v in ds.ImagerPixelSpacing] == [0.07, 0.07]
        assert ds.ImageLaterality == name[0] and ds.ViewPosition == name[1:]
        (view,) = ds.ViewCodeSequence
        assert (view.CodeValue, view.CodeMeaning) == codes[name[1:]]
        assert view.CodingSchemeDesignator == "SCT"
        assert ds.PatientName == "SYNTHETIC^DEMO"
        assert ds.PatientOrientation[0] == ("A" if name[0] == "L" else "P")


def test_demo_study_views_share_patient_study_and_series(
    demo_files: dict[str, pydicom.Dataset],
) -> None:
    datasets = list(demo_files.values())
    for attribute in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID"):
        assert len({str(ds[attribute].value) for ds in datasets}) == 1
    assert len({ds.SOPInstanceUID for ds in datasets}) == 4
    assert datasets[0].StudyInstanceUID == demo_uid(2026, "study") != demo_uid(2027, "study")
    assert sorted(int(ds.InstanceNumber) for ds in datasets) == [1, 2, 3, 4]


def test_demo_study_carries_every_display_feature(demo_files: dict[str, pydicom.Dataset]) -> None:
    rcc, lcc, rmlo, lmlo = demo_files.values()
    assert rcc.VOILUTFunction == "LINEAR"
    assert len(rcc.WindowCenter) == len(rcc.WindowWidth) == 3
    assert len(rcc.WindowCenterWidthExplanation) == 3
    assert lcc.VOILUTFunction == "SIGMOID" and float(lcc.WindowWidth) > 0
    assert rmlo.PhotometricInterpretation == "MONOCHROME1"
    assert rmlo.PresentationLUTShape == "INVERSE"
    assert lcc.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert lcc.LossyImageCompression == "00"
    assert lmlo.BurnedInAnnotation == "YES"
    assert [ds.BurnedInAnnotation for ds in (rcc, lcc, rmlo)] == ["NO"] * 3


def test_demo_study_decodes_to_the_generated_pixels(
    demo_study: DemoStudy, demo_files: dict[str, pydicom.Dataset], demo_truth: dict
) -> None:
    for spec, ds, view in zip(DEMO_VIEWS, demo_files.values(), demo_truth["views"], strict=True):
        g = view["generator"]
        m = generate_mammogram(g["seed"], g["laterality"], g["view"], lesions=g["lesions"])
        decoded = ds.pixel_array
        assert decoded.dtype == np.uint16
        assert np.array_equal(decoded, stored_pixels(m, spec)), spec.name
        if spec.monochrome1:  # inverted on disk, so that it still displays dense-bright
            assert np.array_equal(decoded, 4095 - m.pixels)
            centers = [float(c) for c in ds.WindowCenter]
            breast_mean = float(m.pixels[m.breast_mask].mean())
            assert abs(centers[0] - (4095 - breast_mean)) < abs(centers[0] - breast_mean)
        elif not spec.burned_in_text:
            assert np.array_equal(decoded, m.pixels)


def test_burned_in_text_sits_in_the_background_corner(
    demo_files: dict[str, pydicom.Dataset], demo_truth: dict
) -> None:
    view = demo_truth["views"][3]
    assert view["burned_in_text"] == burned_in_lines(DEMO_VIEWS[3])
    r0, c0, r1, c1 = view["burned_in_text_box"]
    glyphs = render_text(view["burned_in_text"], TEXT_SCALE)
    assert glyphs.shape == (r1 - r0, c1 - c0)
    label = demo_files["LMLO"].pixel_array[r0:r1, c0:c1]
    assert np.all(label[glyphs] == 4095) and label[~glyphs].mean() < 40
    m = generate_mammogram(2026, "L", "MLO", lesions=[LesionKind.CALCIFICATION_CLUSTER])
    assert not m.breast_mask[r0:r1, c0:c1].any()
    assert c0 > m.pixels.shape[1] / 2  # away from the chest wall of a left breast


def test_demo_truth_describes_every_lesion(demo_study: DemoStudy, demo_truth: dict) -> None:
    assert demo_truth["synthetic"] is True and demo_truth["seed"] == 2026
    types = [les["type"] for v in demo_truth["views"] for les in v["lesions"]]
    assert "mass" in types and "calcification_cluster" in types
    for view in demo_truth["views"]:
        assert (demo_study.folder / view["file"]).stat().st_size == view["size_bytes"]
        for lesion in view["lesions"]:
            assert len(lesion["outline_yx_px"]) >= 24
            assert lesion["diameter_px"] * 0.07 == pytest.approx(lesion["diameter_mm"], abs=0.01)
            cy, cx = lesion["center_yx_px"]
            assert lesion["center_yx_mm"] == pytest.approx([cy * 0.07, cx * 0.07], abs=1e-3)
            assert lesion["contrast_z"] > 0.3
            if lesion["type"] == "calcification_cluster":
                assert len(lesion["specks"]) >= 5


# --- `mammolens demo` -------------------------------------------------------------------------


def test_demo_command_is_idempotent(
    demo_study: DemoStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "study"
    shutil.copytree(demo_study.folder, copy)
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    assert demo_command.main(["--out", str(copy)]) == 0
    assert "already present" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before
    assert demo_command.ensure_demo_study(2026, copy) == load_demo_study(copy, 2026)


def test_demo_command_rewrites_an_incomplete_study_identically(
    demo_study: DemoStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "study"
    shutil.copytree(demo_study.folder, copy)
    (copy / "LCC.dcm").unlink()
    assert load_demo_study(copy, 2026) is None
    assert load_demo_study(demo_study.folder, 2027) is None  # another seed is another study
    assert demo_command.main(["--out", str(copy), "--seed", "2026"]) == 0
    assert "written" in capsys.readouterr().out
    for path in (*demo_study.image_paths, demo_study.truth_path):
        assert (copy / path.name).read_bytes() == path.read_bytes(), path.name
    assert not list(copy.glob("*.partial"))


def test_demo_command_defaults_to_the_user_cache_folder() -> None:
    folder = demo_command.default_demo_folder(2026)
    assert folder.name == "demo-study-2026" and "MammoLens" in folder.parts


def test_demo_command_rejects_a_negative_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo_command.main(["--seed", "-3"]) == 2
    assert "--seed -3" in capsys.readouterr().err


def test_generator_source_hash_covers_every_generator_module() -> None:
    from viewer.dicomio import synthetic

    digest = synthetic.generator_source_hash()
    assert len(digest) == 64 and digest == synthetic.generator_source_hash()
    modules = sorted(p.name for p in Path(synthetic.__file__).parent.glob("synthetic*.py"))
    assert {"synthetic.py", "synthetic_anatomy.py", "synthetic_lesions.py"} <= set(modules)

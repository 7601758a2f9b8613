"""Hanging protocols as data: the 4-view mammography layout and its mirroring."""

from types import SimpleNamespace

import numpy as np

from viewer.model import (
    FOUR_VIEW_MAMMOGRAPHY,
    SINGLE_VIEW,
    SelectionRule,
    Side,
    chest_wall_side,
    choose_hanging,
    needs_flip,
)


def header(laterality: str, view: str, instance: int = 1, modality: str = "MG") -> SimpleNamespace:
    return SimpleNamespace(
        modality=modality, laterality=laterality, view_position=view, instance_number=instance,
        path=f"/{laterality}{view}{instance}.dcm",
    )  # fmt: skip


def test_four_views_hang_rcc_lcc_over_rmlo_lmlo() -> None:
    headers = [header("L", "MLO"), header("R", "MLO"), header("L", "CC"), header("R", "CC")]
    hanging = choose_hanging(headers)
    assert hanging is not None and hanging.protocol is FOUR_VIEW_MAMMOGRAPHY
    placed = {
        (cell.row, cell.col): (h.laterality, h.view_position)
        for cell, h in zip(hanging.protocol.cells, hanging.headers, strict=True)
    }
    assert placed == {(0, 0): ("R", "CC"), (0, 1): ("L", "CC"),
                      (1, 0): ("R", "MLO"), (1, 1): ("L", "MLO")}  # fmt: skip
    # right views have the chest wall on the right of their cell: the breasts face each other
    sides = [cell.chest_wall for cell in hanging.protocol.cells]
    assert sides == [Side.RIGHT, Side.LEFT, Side.RIGHT, Side.LEFT]


def test_incomplete_study_falls_back_to_a_single_view() -> None:
    headers = [header("L", "CC"), header("R", "CC"), header("L", "MLO")]
    hanging = choose_hanging(headers)
    assert hanging is not None and hanging.protocol is SINGLE_VIEW
    assert choose_hanging([]) is None


def test_latest_instance_wins_and_rules_are_regular_expressions() -> None:
    headers = [header(s, v, i) for s in "LR" for v in ("CC", "MLO") for i in (1, 3)]
    hanging = choose_hanging(headers)
    assert hanging is not None
    assert all(h.instance_number == 3 for h in hanging.headers)
    assert SelectionRule.of({"modality": "(?i)mg"}).matches(header("L", "CC"))
    assert not SelectionRule.of({"modality": "(?i)mg"}).matches(header("L", "CC", modality="CT"))


def test_chest_wall_side_and_flip_follow_the_bright_edge() -> None:
    breast_on_left = np.zeros((50, 40))
    breast_on_left[5:45, :25] = 200
    assert chest_wall_side(breast_on_left) is Side.LEFT
    assert chest_wall_side(breast_on_left[:, ::-1]) is Side.RIGHT
    rcc_cell, lcc_cell = FOUR_VIEW_MAMMOGRAPHY.cells[:2]
    assert needs_flip(rcc_cell, breast_on_left)  # a right view stored chest wall left: mirror it
    assert not needs_flip(lcc_cell, breast_on_left)
    assert not needs_flip(SINGLE_VIEW.cells[0], breast_on_left)

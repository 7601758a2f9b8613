"""Hanging protocols: which image goes into which cell of the screen, as data (Qt-free).

A protocol is a grid of cells; each cell has a selection rule, a mapping from `ImageHeader`
field to a regular expression (MONAI Deploy style, e.g. `{"modality": "(?i)^MG$"}`), and the side
of the cell the chest wall must be on, so right and left views face each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from viewer.dicomio import ImageHeader


class Side(StrEnum):
    """A side of a cell on screen."""

    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True)
class SelectionRule:
    """Header field -> full-match regular expression; an image matches when all fields match."""

    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, mapping: Mapping[str, str]) -> SelectionRule:
        """A rule from a mapping, e.g. `{"laterality": "R", "view_position": "CC"}`."""
        return cls(tuple(mapping.items()))

    def matches(self, header: ImageHeader) -> bool:
        """True when every named header field (as text) matches its pattern."""
        for name, pattern in self.fields:
            value = getattr(header, name, None)
            if value is None or re.fullmatch(pattern, str(value)) is None:
                return False
        return True


@dataclass(frozen=True)
class Cell:
    """One screen cell: its grid position, its rule and where the chest wall goes (if anywhere)."""

    row: int
    col: int
    rule: SelectionRule
    chest_wall: Side | None = None
    label: str = ""


@dataclass(frozen=True)
class HangingProtocol:
    """A named grid of cells; it applies when every cell finds an image."""

    name: str
    rows: int
    cols: int
    cells: tuple[Cell, ...] = field(default=())

    def assign(self, headers: Sequence[ImageHeader]) -> tuple[ImageHeader, ...] | None:
        """One header per cell (in cell order), or None when a cell finds nothing.

        Among several candidates for a cell the highest instance number wins (the latest image).
        """
        chosen: list[ImageHeader] = []
        for cell in self.cells:
            candidates = [h for h in headers if cell.rule.matches(h) and h not in chosen]
            if not candidates:
                return None
            chosen.append(max(candidates, key=lambda h: h.instance_number or 0))
        return tuple(chosen)


def _mammo_cell(row: int, col: int, laterality: str, view: str, chest_wall: Side) -> Cell:
    rule = SelectionRule.of({"modality": "(?i)MG", "laterality": laterality, "view_position": view})
    return Cell(row, col, rule, chest_wall, f"{laterality}{view}")


# Right breast views on the left, chest walls toward the middle: the standard mirrored hanging.
FOUR_VIEW_MAMMOGRAPHY = HangingProtocol(
    "Mammography 4-view",
    rows=2,
    cols=2,
    cells=(
        _mammo_cell(0, 0, "R", "CC", Side.RIGHT),
        _mammo_cell(0, 1, "L", "CC", Side.LEFT),
        _mammo_cell(1, 0, "R", "MLO", Side.RIGHT),
        _mammo_cell(1, 1, "L", "MLO", Side.LEFT),
    ),
)

SINGLE_VIEW = HangingProtocol("Single view", rows=1, cols=1, cells=(Cell(0, 0, SelectionRule(())),))

DEFAULT_PROTOCOLS: tuple[HangingProtocol, ...] = (FOUR_VIEW_MAMMOGRAPHY,)


@dataclass(frozen=True)
class Hanging:
    """A protocol with the image chosen for each of its cells."""

    protocol: HangingProtocol
    headers: tuple[ImageHeader, ...]


def choose_hanging(
    headers: Sequence[ImageHeader], protocols: Sequence[HangingProtocol] = DEFAULT_PROTOCOLS
) -> Hanging | None:
    """The first protocol that all its cells can fill; else a single view of the first image."""
    for protocol in protocols:
        assigned = protocol.assign(headers)
        if assigned is not None:
            return Hanging(protocol, assigned)
    if not headers:
        return None
    return Hanging(SINGLE_VIEW, (headers[0],))


def chest_wall_side(brightness: np.ndarray) -> Side:
    """The side of the image the breast is attached to, from a (subsampled) brightness image.

    `brightness` must be bright for tissue (MONOCHROME1 already inverted). The chest wall edge is
    covered by tissue, the nipple side is mostly background, so the brighter edge band wins.
    """
    cols = brightness.shape[1]
    band = max(1, cols // 10)
    left = float(np.mean(brightness[:, :band]))
    right = float(np.mean(brightness[:, -band:]))
    return Side.LEFT if left >= right else Side.RIGHT


def needs_flip(cell: Cell, brightness: np.ndarray) -> bool:
    """Whether the image must be mirrored so its chest wall is on the cell's required side."""
    if cell.chest_wall is None:
        return False
    return chest_wall_side(brightness) != cell.chest_wall

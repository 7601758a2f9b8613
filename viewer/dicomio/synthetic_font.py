"""A 5 x 7 bitmap font rasterized with numpy, for burning text into synthetic images."""

from __future__ import annotations

import numpy as np

_GLYPHS: dict[str, str] = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "####. ....# ....# .###. ....# ....# ####.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "-": "..... ..... ..... ##### ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    "^": "..#.. .#.#. #...# ..... ..... ..... .....",
    "/": "....# ....# ...#. ..#.. .#... #.... #....",
    " ": "..... ..... ..... ..... ..... ..... .....",
}
GLYPH_ROWS, GLYPH_COLS = 7, 5


class UnsupportedCharacterError(ValueError):
    """The text holds a character the bitmap font does not have."""

    def __init__(self, text: str, char: str) -> None:
        self.text = text
        self.char = char
        super().__init__(
            f"burned-in text {text!r}: character {char!r} is not in the font; "
            f"expected one of {''.join(sorted(_GLYPHS))!r}"
        )


def _glyph(char: str) -> np.ndarray:
    rows = _GLYPHS[char].split()
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def render_text(lines: list[str], scale: int) -> np.ndarray:
    """Boolean bitmap of text lines (upper case), each font pixel `scale` x `scale` pixels."""
    width = max(len(line) for line in lines) * (GLYPH_COLS + 1) - 1
    height = len(lines) * (GLYPH_ROWS + 3) - 3
    bitmap = np.zeros((height, width), dtype=bool)
    for i, line in enumerate(lines):
        for j, char in enumerate(line.upper()):
            if char not in _GLYPHS:
                raise UnsupportedCharacterError(line, char)
            y, x = i * (GLYPH_ROWS + 3), j * (GLYPH_COLS + 1)
            bitmap[y : y + GLYPH_ROWS, x : x + GLYPH_COLS] = _glyph(char)
    return np.kron(bitmap, np.ones((scale, scale), dtype=bool))

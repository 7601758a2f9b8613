"""`mammolens render INPUT -o OUT.png [--frame N] [--window CENTER WIDTH | --voi INDEX]`.

Writes exactly `render_display` pixels (1:1, the viewer's default VOI unless told otherwise) as
PNG through SimpleITK's writer. Exit 0 on success; bad input or bad options: exit 2 and one line
on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewer.commands.png import write_png

if TYPE_CHECKING:
    from viewer.dicomio import ModalityImage, VoiSetting

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _UsageError(Exception):
    """Bad command-line options (argparse's error, kept to one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The subcommand's options."""
    parser = _Parser(prog="mammolens render", description="Render a DICOM image to PNG, 1:1.")
    parser.add_argument("input", type=Path, help="DICOM file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--frame", type=int, default=0, help="frame index (default 0)")
    voi = parser.add_mutually_exclusive_group()
    voi.add_argument("--window", type=float, nargs=2, metavar=("CENTER", "WIDTH"))
    voi.add_argument(
        "--voi", type=int, metavar="INDEX", help="index into the file's windows, then its VOI LUTs"
    )
    parser.add_argument("--invert", action="store_true", help="invert the gray scale")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand; returns the exit status."""
    from viewer.dicomio import DicomInputError

    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        pixels = _render(args)
        write_png(pixels, args.output)
    except _UsageError as error:
        return _fail(f"mammolens render: {error}")
    except DicomInputError as error:
        return _fail(f"mammolens render: {error}")
    except (OSError, RuntimeError) as error:
        return _fail(f"mammolens render: cannot write {args.output}: {error}")
    return EXIT_OK


def _fail(message: str) -> int:
    print(" ".join(message.split()), file=sys.stderr)
    return EXIT_BAD_INPUT


def _render(args: argparse.Namespace) -> np.ndarray:
    from viewer.dicomio import (
        DecoderPool,
        DicomInputError,
        VoiSetting,
        VoiWindow,
        default_voi,
        read_header,
        render_display,
    )
    from viewer.dicomio.pixels import load_pixels

    header = read_header(args.input)
    if header.is_encapsulated:  # a codec runs: isolate it, so a crash is a message, not a core
        with DecoderPool(workers=1) as pool:
            image = load_pixels(header, pool)
    else:
        image = load_pixels(header)
    if not 0 <= args.frame < image.frames:
        raise DicomInputError(
            args.input,
            "no such frame",
            tag="NumberOfFrames (0028,0008)",
            value=args.frame,
            expected=f"0..{image.frames - 1}",
        )
    if args.window is not None:
        center, width = args.window
        if width < 1:
            raise DicomInputError(args.input, "bad --window width", value=width, expected=">= 1")
        voi = VoiSetting(window=VoiWindow(center, width, "command line"))
    elif args.voi is not None:
        voi = _preset(image, args.voi)
    else:
        voi = default_voi(image)
    return render_display(image, voi, invert=args.invert, frame=args.frame)


def _preset(image: ModalityImage, index: int) -> VoiSetting:
    """--voi INDEX: the file's windows first, then its VOI LUTs."""
    from viewer.dicomio import DicomInputError, VoiSetting

    windows, luts = image.header.windows, image.header.voi_luts
    if 0 <= index < len(windows):
        return VoiSetting(window=windows[index])
    if len(windows) <= index < len(windows) + len(luts):
        return VoiSetting(lut_index=index - len(windows))
    raise DicomInputError(
        image.header.path,
        "no such VOI preset",
        tag="--voi",
        value=index,
        expected=f"0..{len(windows) + len(luts) - 1} "
        f"({len(windows)} windows, {len(luts)} VOI LUTs)",
    )

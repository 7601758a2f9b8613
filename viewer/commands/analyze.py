"""`mammolens analyze PATHS... --out DIR`: headless AI analysis, a JSON result and a PNG per image.

Files named on the command line must be DICOM; in folders, files without the DICM preamble are
skipped. A file that cannot be read or analysed is reported and the batch goes on; the exit code
is 0 when every image was analysed, 1 when any failed, 2 for bad arguments or an unusable model.
Research use only, not for clinical use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inference import Analyzer, Device, InferenceError, Result
from inference.gradcam import resize_linear
from viewer.commands.png import write_png
from viewer.resources import default_model_dir

if TYPE_CHECKING:
    from viewer.dicomio import DecoderPool

PNG_MAX_ROWS = 1024


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """What the analysis needs of one file: AI input, geometry and an 8-bit display rendering."""

    values: np.ndarray
    pixel_spacing_mm: float | None
    laterality: str
    view: str
    sop_instance_uid: str
    display: np.ndarray


def load_dicom(path: Path, pool: DecoderPool | None = None) -> LoadedImage:
    """Read one DICOM file through viewer.dicomio (the one source of pixels).

    Compressed pixel data is decoded in `pool`'s worker processes, so a codec that crashes or
    hangs costs that file only; without a pool it is decoded in this process.
    """
    from viewer import dicomio

    image = dicomio.load_image(path, pool)
    header = image.header
    spacing = header.pixel_spacing
    return LoadedImage(
        values=np.ascontiguousarray(dicomio.ai_input(image), dtype=np.float32),
        pixel_spacing_mm=None if spacing is None else float(spacing[0]),
        laterality=header.laterality,
        view=header.view_position,
        sop_instance_uid=header.sop_instance_uid,
        display=dicomio.render_display(image, dicomio.default_voi(image)),
    )


def _is_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def collect_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Named files as given; folders walked recursively (sorted), DICOM files only."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.name.startswith(".") and _is_dicom(child):
                    yield child
        else:
            yield path


def _jet(values: np.ndarray) -> np.ndarray:
    v = values[..., None] * 4
    centres = np.array([3.0, 2.0, 1.0], np.float32)
    return np.clip(1.5 - np.abs(v - centres), 0, 1)


def _draw_box(rgb: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, ...]) -> None:
    r0, c0, r1, c1 = box
    r1, c1 = max(r0 + 1, min(r1, rgb.shape[0])), max(c0 + 1, min(c1, rgb.shape[1]))
    width = 2
    rgb[r0 : r0 + width, c0:c1] = colour
    rgb[max(r0, r1 - width) : r1, c0:c1] = colour
    rgb[r0:r1, c0 : c0 + width] = colour
    rgb[r0:r1, max(c0, c1 - width) : c1] = colour


def overlay_png(display: np.ndarray, result: Result) -> np.ndarray:
    """The display image (at most PNG_MAX_ROWS tall) with the global heatmap and crop boxes."""
    gray = display if display.ndim == 2 else display.mean(axis=2)
    step = max(1, int(np.ceil(gray.shape[0] / PNG_MAX_ROWS)))
    base = gray[::step, ::step].astype(np.float32) / 255.0
    rgb = np.repeat(base[..., None], 3, axis=2)
    heat = result.global_heatmap
    if not heat.all_zero:
        r0, c0, r1, c1 = (v // step for v in heat.box)
        size = (max(1, r1 - r0), max(1, c1 - c0))
        values = np.clip(resize_linear(heat.values, size), 0, 1)[
            : rgb.shape[0] - r0, : rgb.shape[1] - c0
        ]
        alpha = (0.5 * values * (values > 0.2))[..., None]
        region = rgb[r0 : r0 + values.shape[0], c0 : c0 + values.shape[1]]
        region[:] = (1 - alpha) * region + alpha * _jet(values)
    out = (rgb * 255 + 0.5).astype(np.uint8)
    for crop in sorted(result.crops, key=lambda c: -c.rank):
        colour = (255, 40, 40) if crop.rank == 1 else (255, 220, 0)
        _draw_box(out, tuple(v // step for v in crop.box), colour)  # type: ignore[arg-type]
    return _with_caption(out, _caption(result))


def _caption(result: Result) -> list[str]:
    evidence = "NO POSITIVE EVIDENCE" if result.global_heatmap.all_zero else "HEATMAP: GRAD-CAM"
    return [
        f"FUSED SCORE {result.fused_score:.3f}  IMAGE {result.image_score:.3f}  "
        f"CROPS {result.crop_score:.3f}  {evidence}",
        "RESEARCH USE ONLY - NOT FOR CLINICAL USE",
    ]


def _with_caption(rgb: np.ndarray, lines: list[str]) -> np.ndarray:
    """The image with a black band below it holding `lines` in white (the synthetic 5x7 font)."""
    from viewer.dicomio.synthetic_font import render_text

    text = render_text(lines, scale=2)[:, : rgb.shape[1] - 8]
    band = np.zeros((text.shape[0] + 12, rgb.shape[1], 3), np.uint8)
    band[6 : 6 + text.shape[0], 4 : 4 + text.shape[1]][text] = 255
    return np.concatenate([rgb, band], axis=0)


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, n = path.stem or "image", 1
    name = stem
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


def analyze_one(
    analyzer: Analyzer, image: LoadedImage, out: Path, stem: str, source: Path
) -> Result:
    """Analyse one loaded image and write <stem>.json and <stem>.png into `out`."""
    spacing = image.pixel_spacing_mm or analyzer.manifest.pixel_spacing_mm
    result = analyzer.analyze(
        image.values,
        pixel_spacing_mm=spacing,
        laterality=image.laterality,
        view=image.view,
        sop_instance_uid=image.sop_instance_uid,
    )
    data = result.to_dict()
    data["source_path"] = str(source)
    if image.pixel_spacing_mm is None:
        data["warnings"].append(f"no pixel spacing in the file: assumed the model's {spacing} mm")
    (out / f"{stem}.json").write_text(json.dumps(data))
    write_png(overlay_png(image.display, result), out / f"{stem}.png")
    return result


def run_batch(
    files: list[Path],
    analyzer: Analyzer,
    out: Path,
    load: Callable[[Path], LoadedImage] = load_dicom,
    report: Callable[[str], None] = print,
) -> int:
    """Analyse every file, one progress line each; returns the number of failures."""
    failures, used = 0, set[str]()
    for index, path in enumerate(files, start=1):
        prefix = f"[{index}/{len(files)}] {path}"
        start = time.perf_counter()
        try:
            result = analyze_one(analyzer, load(path), out, _unique_stem(path, used), path)
        except (InferenceError, OSError, ValueError) as error:
            failures += 1
            report(f"{prefix}: FAILED: {error}")
            continue
        except Exception as error:  # a bad file must not stop the batch; dicomio raises its own
            failures += 1
            report(f"{prefix}: FAILED: {type(error).__name__}: {error}")
            continue
        ms = (time.perf_counter() - start) * 1000
        evidence = "" if not result.global_heatmap.all_zero else ", no positive evidence"
        report(f"{prefix}: fused score {result.fused_score:.3f}{evidence} ({ms:.0f} ms)")
    return failures


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mammolens analyze",
        description="Run the AI model on mammograms: JSON result and heatmap PNG per image "
        "(research use only, not for clinical use).",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="DICOM files or folders")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--device", choices=[d.value for d in Device], default=Device.AUTO.value)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: bundled)")
    parser.add_argument("--top-k", type=int, default=6, help="number of crops (default 6)")
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of `mammolens analyze`; returns the exit code."""
    args = _parser().parse_args(list(argv))
    if args.top_k < 1:
        print(f"mammolens analyze: --top-k {args.top_k}: expected >= 1", file=sys.stderr)
        return 2
    model_dir = args.model or default_model_dir()
    try:
        analyzer = Analyzer(model_dir, Device(args.device), top_k=args.top_k)
    except (InferenceError, ValueError, OSError) as error:
        print(f"mammolens analyze: cannot use model {model_dir}: {error}", file=sys.stderr)
        return 2
    files = list(collect_files(args.paths))
    if not files:
        print("mammolens analyze: no DICOM files found", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"model {analyzer.manifest.name} {analyzer.manifest.version} on {analyzer.provider}; "
        f"{len(files)} file(s)",
        file=sys.stderr,
    )
    from viewer.dicomio import DecoderPool

    with DecoderPool(workers=1) as pool:
        failures = run_batch(
            files,
            analyzer,
            args.out,
            load=lambda path: load_dicom(path, pool),
            report=lambda line: print(line, file=sys.stderr),
        )
    print(
        f"{len(files) - failures} analysed, {failures} failed; results in {args.out}",
        file=sys.stderr,
    )
    return 1 if failures else 0

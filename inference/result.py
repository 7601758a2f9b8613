"""What one analysis returns: scores, crop findings, heatmaps, timings and provenance.

`Result.to_json()` / `Result.from_json()` round-trip exactly. A heatmap made by the analyzer travels
as its raw cam map (float32, zlib, base64; the bundled model's 128 x 104 global map is ~48 kB)
plus how it was resized, cropped and mirrored, and `from_json` recomputes the same float32 values
with `gradcam_map`. Heatmaps without that source travel as float16 values (abs error < 5e-4 on
[0, 1]).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from inference.gradcam import gradcam_map, has_positive_evidence

Box = tuple[int, int, int, int]
HEATMAP_ENCODING = "float16-zlib-base64"
CAM_ENCODING = "gradcam-source-float32-zlib-base64"
RESULT_FORMAT = "mammolens-result/1"


class Stage(StrEnum):
    """Progress stages reported by `Analyzer.analyze`, in this order."""

    SEGMENTING = "segmenting"
    GLOBAL_MODEL = "global_model"
    CROPS = "crops"
    HEATMAPS = "heatmaps"
    DONE = "done"


def _encode(array: np.ndarray, dtype: str) -> str:
    raw = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def _decode(text: str, dtype: str, shape: Any) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(text))
    return np.frombuffer(raw, dtype=dtype).reshape(tuple(int(n) for n in shape))


@dataclass(frozen=True, eq=False)
class CamSource:
    """How a heatmap was made: gradcam_map(cam, resize_hw)[:crop_hw], mirrored if `flipped`.

    Lets the JSON carry the small raw cam map instead of the full-size map, and gives the exact
    same float32 values back.
    """

    cam: np.ndarray
    resize_hw: tuple[int, int]
    crop_hw: tuple[int, int]
    flipped: bool

    def render(self) -> np.ndarray:
        """The heatmap values this source describes."""
        full = gradcam_map(self.cam, self.resize_hw)[: self.crop_hw[0], : self.crop_hw[1]]
        return np.ascontiguousarray(full[:, ::-1] if self.flipped else full)


@dataclass(frozen=True, eq=False)
class Heatmap:
    """A normalized Grad-CAM map in [0, 1], stretched over `box` (row0, col0, row1, col1).

    Its rows/cols run in the original image's direction (already flipped back). `all_zero` means
    the model found no positive evidence: show that, not an empty overlay. With a `source`, JSON
    stores the raw cam map (exact round trip, ~48 kB for a 128 x 104 map); without, float16
    values (HEATMAP_ENCODING).
    """

    values: np.ndarray
    box: Box
    all_zero: bool
    source: CamSource | None = None

    @classmethod
    def from_cam(cls, source: CamSource, box: Box) -> Heatmap:
        """The heatmap of a cam map (all_zero when the cam has no positive value)."""
        return cls(source.render(), box, not has_positive_evidence(source.cam), source)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        head: dict[str, Any] = {"box": list(self.box), "all_zero": self.all_zero}
        if self.source is not None:
            src = self.source
            return {
                **head,
                "encoding": CAM_ENCODING,
                "shape": list(src.cam.shape),
                "data": _encode(src.cam, "<f4"),
                "resize_hw": list(src.resize_hw),
                "crop_hw": list(src.crop_hw),
                "flipped": src.flipped,
            }
        return {
            **head,
            "encoding": HEATMAP_ENCODING,
            "shape": list(self.values.shape),
            "data": _encode(self.values, "<f2"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Heatmap:
        """Inverse of to_dict (float16-encoded values come back as float32 of the rounding)."""
        encoding = data.get("encoding")
        if encoding == CAM_ENCODING:
            source = CamSource(
                _decode(data["data"], "<f4", data["shape"]).astype(np.float32),
                _pair(data["resize_hw"]),
                _pair(data["crop_hw"]),
                bool(data["flipped"]),
            )
            return cls(source.render(), _box(data["box"]), bool(data["all_zero"]), source)
        if encoding != HEATMAP_ENCODING:
            raise ValueError(
                f"heatmap encoding {encoding!r}: expected {CAM_ENCODING} or {HEATMAP_ENCODING}"
            )
        values = _decode(data["data"], "<f2", data["shape"]).astype(np.float32)
        return cls(values, _box(data["box"]), bool(data["all_zero"]))


def _pair(values: Any) -> tuple[int, int]:
    first, second = (int(v) for v in values)
    return (first, second)


def _box(values: Any) -> Box:
    r0, c0, r1, c1 = (int(v) for v in values)
    return (r0, c0, r1, c1)


@dataclass(frozen=True, eq=False)
class CropFinding:
    """One full-resolution crop: rank (1 = most salient), box, patch-model logit and score."""

    rank: int
    box: Box
    logit: float
    score: float
    saliency: float
    heatmap: Heatmap

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "rank": self.rank,
            "box": list(self.box),
            "logit": self.logit,
            "score": self.score,
            "saliency": self.saliency,
            "heatmap": self.heatmap.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CropFinding:
        """Inverse of to_dict."""
        return cls(
            int(data["rank"]),
            _box(data["box"]),
            float(data["logit"]),
            float(data["score"]),
            float(data["saliency"]),
            Heatmap.from_dict(data["heatmap"]),
        )


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: app, model, runtime, preprocessing and the input pixels."""

    app_version: str
    model_name: str
    model_version: str
    global_model_sha256: str
    patch_model_sha256: str
    onnxruntime_version: str
    provider: str
    input_sha256: str
    sop_instance_uid: str
    preprocessing: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "preprocessing", MappingProxyType(dict(self.preprocessing)))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["preprocessing"] = dict(self.preprocessing)
        return data


@dataclass(frozen=True, eq=False)
class Result:
    """The analysis of one image. Boxes are half-open, in original image pixel coordinates."""

    sop_instance_uid: str
    laterality: str
    view: str
    image_hw: tuple[int, int]
    global_logit: float
    image_score: float
    crop_score: float
    fused_score: float
    crops: tuple[CropFinding, ...]
    global_heatmap: Heatmap
    timings_ms: Mapping[str, float]
    provider: str
    provenance: Provenance
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of everything in the result."""
        return {
            "format": RESULT_FORMAT,
            "sop_instance_uid": self.sop_instance_uid,
            "laterality": self.laterality,
            "view": self.view,
            "image_hw": list(self.image_hw),
            "global_logit": self.global_logit,
            "image_score": self.image_score,
            "crop_score": self.crop_score,
            "fused_score": self.fused_score,
            "crops": [c.to_dict() for c in self.crops],
            "global_heatmap": self.global_heatmap.to_dict(),
            "timings_ms": dict(self.timings_ms),
            "provider": self.provider,
            "provenance": self.provenance.to_dict(),
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = None) -> str:
        """The result as JSON text (see the module docstring for the heatmap encoding)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Result:
        """Inverse of to_json; raises ValueError for another format."""
        data = json.loads(text)
        if data.get("format") != RESULT_FORMAT:
            raise ValueError(f"result format {data.get('format')!r}: expected {RESULT_FORMAT}")
        rows, cols = (int(v) for v in data["image_hw"])
        return cls(
            sop_instance_uid=data["sop_instance_uid"],
            laterality=data["laterality"],
            view=data["view"],
            image_hw=(rows, cols),
            global_logit=float(data["global_logit"]),
            image_score=float(data["image_score"]),
            crop_score=float(data["crop_score"]),
            fused_score=float(data["fused_score"]),
            crops=tuple(CropFinding.from_dict(c) for c in data["crops"]),
            global_heatmap=Heatmap.from_dict(data["global_heatmap"]),
            timings_ms={k: float(v) for k, v in data["timings_ms"].items()},
            provider=data["provider"],
            provenance=Provenance(**data["provenance"]),
            warnings=tuple(data.get("warnings", ())),
        )

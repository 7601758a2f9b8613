"""Model manifests: typed, frozen, validated on construction; from manifest.json or ONNX metadata.

The format is specified in `inference/MODEL_FORMAT.md`. Every refusal is a `ModelError` naming the
manifest field (dotted, e.g. `global.input_shape`) and the bad value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from inference.errors import ModelError

SCHEMA_VERSIONS = (1,)
MANIFEST_FILE = "manifest.json"
METADATA_KEY = "mammolens_manifest"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.onnx$")
_HERE = Path("manifest.json")


class CamPooling(StrEnum):
    """The increasing pooling that turns the cam map into the logit (logit = pool(cam) + b)."""

    AVG = "avg"
    TOPK_MEAN = "topk_mean"
    MAX = "max"


class ChannelKind(StrEnum):
    """Input channels a model may ask for (closed list)."""

    INTENSITY = "intensity"
    HIGHPASS_MAX = "highpass_max"


class NormalizationMethod(StrEnum):
    """How modality values become model input."""

    BREAST_PERCENTILE = "breast_percentile"


class CropAggregation(StrEnum):
    """How the K crop scores of one image become one crop score."""

    MAX = "max"
    ATTENTION = "attention"


class ViewAggregation(StrEnum):
    """How image scores combine into a breast score, and breast scores into an exam score."""

    MAX = "max"
    MEAN = "mean"


def _fail(field_name: str, value: object, expected: str) -> None:
    raise ModelError(_HERE, field_name, value, expected)


def _check(ok: bool, field_name: str, value: object, expected: str) -> None:
    if not ok:
        _fail(field_name, value, expected)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class OutputNames:
    """Names of the two outputs of a stage: the logit [N, 1] and the cam map [N, 1, h, w]."""

    logit: str = "logit"
    cam: str = "cam"

    def __post_init__(self) -> None:
        for name in ("logit", "cam"):
            value = getattr(self, name)
            _check(isinstance(value, str) and bool(value), name, value, "a non-empty string")


@dataclass(frozen=True)
class StageSpec:
    """One ONNX stage (global or patch): file, hash, input and outputs, and how its cam is made."""

    file: str
    sha256: str
    input_shape: tuple[int | str, ...]
    input_name: str = "image"
    layout: str = "NCHW"
    dtype: str = "float32"
    output_names: OutputNames = field(default_factory=OutputNames)
    cam_pooling: CamPooling = CamPooling.AVG
    cam_pooling_k: int | None = None
    cam_target_layer: str = ""

    def __post_init__(self) -> None:
        _check(
            isinstance(self.file, str) and bool(_FILE_NAME.match(self.file)),
            "file",
            self.file,
            "a plain file name ending in .onnx inside the model folder",
        )
        _check(
            isinstance(self.sha256, str)
            and (self.sha256 == "" or bool(_SHA256.match(self.sha256))),
            "sha256",
            self.sha256,
            "64 lowercase hex digits",
        )
        _check(
            isinstance(self.input_name, str) and bool(self.input_name),
            "input_name",
            self.input_name,
            "a non-empty string",
        )
        _check(self.layout == "NCHW", "layout", self.layout, "'NCHW'")
        _check(self.dtype == "float32", "dtype", self.dtype, "'float32'")
        shape = self.input_shape
        _check(
            isinstance(shape, tuple)
            and len(shape) == 4
            and all(
                (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                or (isinstance(d, str) and d)
                for d in shape
            )
            and all(isinstance(d, int) for d in shape[1:]),
            "input_shape",
            shape,
            "[N, C, H, W]: C, H, W positive integers, N an integer or a name",
        )
        _check(
            self.cam_pooling in set(CamPooling),
            "cam_pooling",
            self.cam_pooling,
            f"one of {[p.value for p in CamPooling]}",
        )
        object.__setattr__(self, "cam_pooling", CamPooling(self.cam_pooling))
        if self.cam_pooling_k is not None:
            _check(
                isinstance(self.cam_pooling_k, int) and self.cam_pooling_k > 0,
                "cam_pooling_k",
                self.cam_pooling_k,
                "a positive integer or null",
            )

    @property
    def channels(self) -> int:
        """C of the input shape."""
        return int(self.input_shape[1])

    @property
    def height_width(self) -> tuple[int, int]:
        """(H, W) of the input shape."""
        return int(self.input_shape[2]), int(self.input_shape[3])


@dataclass(frozen=True)
class ChannelSpec:
    """One input channel; `highpass_max` needs `sigma_mm`; value = min(scale * hp, clip_max)."""

    kind: ChannelKind
    sigma_mm: float | None = None
    scale: float = 1.0
    clip_max: float | None = None

    def __post_init__(self) -> None:
        _check(
            self.kind in set(ChannelKind),
            "kind",
            self.kind,
            f"one of {[k.value for k in ChannelKind]}",
        )
        object.__setattr__(self, "kind", ChannelKind(self.kind))
        if self.kind is ChannelKind.HIGHPASS_MAX:
            _check(
                _is_number(self.sigma_mm) and float(self.sigma_mm or 0) > 0,
                "sigma_mm",
                self.sigma_mm,
                "a positive number of millimetres for highpass_max",
            )
        _check(_is_number(self.scale) and self.scale > 0, "scale", self.scale, "a positive number")
        _check(
            self.clip_max is None or (_is_number(self.clip_max) and self.clip_max > 0),
            "clip_max",
            self.clip_max,
            "a positive number or null",
        )


@dataclass(frozen=True)
class Normalization:
    """Breast percentiles low/high map to 0/1 (no clipping), then (x - mean) / std."""

    method: NormalizationMethod = NormalizationMethod.BREAST_PERCENTILE
    low_percentile: float = 1.0
    high_percentile: float = 99.0
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        _check(
            self.method in set(NormalizationMethod),
            "method",
            self.method,
            f"one of {[m.value for m in NormalizationMethod]}",
        )
        object.__setattr__(self, "method", NormalizationMethod(self.method))
        lo, hi = self.low_percentile, self.high_percentile
        _check(
            _is_number(lo) and _is_number(hi) and 0 <= lo < hi <= 100,
            "low_percentile",
            (lo, hi),
            "0 <= low_percentile < high_percentile <= 100",
        )
        _check(_is_number(self.mean), "mean", self.mean, "a number")
        _check(_is_number(self.std) and self.std > 0, "std", self.std, "a positive number")


@dataclass(frozen=True)
class Fusion:
    """fused = global_weight * sigmoid(global) + (1 - global_weight) * aggregated crop score."""

    global_weight: float = 0.5
    crop_aggregation: CropAggregation = CropAggregation.MAX
    attention_temperature: float = 1.0
    view_aggregation: ViewAggregation = ViewAggregation.MAX

    def __post_init__(self) -> None:
        _check(
            _is_number(self.global_weight) and 0 <= self.global_weight <= 1,
            "global_weight",
            self.global_weight,
            "a number in [0, 1]",
        )
        _check(
            self.crop_aggregation in set(CropAggregation),
            "crop_aggregation",
            self.crop_aggregation,
            f"one of {[c.value for c in CropAggregation]}",
        )
        _check(
            self.view_aggregation in set(ViewAggregation),
            "view_aggregation",
            self.view_aggregation,
            f"one of {[c.value for c in ViewAggregation]}",
        )
        _check(
            _is_number(self.attention_temperature) and self.attention_temperature > 0,
            "attention_temperature",
            self.attention_temperature,
            "a positive number",
        )
        object.__setattr__(self, "crop_aggregation", CropAggregation(self.crop_aggregation))
        object.__setattr__(self, "view_aggregation", ViewAggregation(self.view_aggregation))


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold on the fused score with the sensitivity/specificity measured at it."""

    name: str
    threshold: float
    sensitivity: float
    specificity: float

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str) and bool(self.name), "name", self.name, "a name")
        for key in ("threshold", "sensitivity", "specificity"):
            value = getattr(self, key)
            _check(_is_number(value) and 0 <= value <= 1, key, value, "a number in [0, 1]")


@dataclass(frozen=True)
class ModelManifest:
    """Everything the runtime must know about a two-stage model; see MODEL_FORMAT.md."""

    schema_version: int
    name: str
    version: str
    global_model: StageSpec
    patch_model: StageSpec
    pixel_spacing_mm: float
    channels: tuple[ChannelSpec, ...]
    normalization: Normalization
    class_names: tuple[str, ...] = ("malignant",)
    score_activation: str = "sigmoid"
    fusion: Fusion = field(default_factory=Fusion)
    operating_points: tuple[OperatingPoint, ...] = ()
    intended_use: str = ""
    training_data: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    not_for_clinical_use: bool = True

    def __post_init__(self) -> None:
        _check(
            self.schema_version in SCHEMA_VERSIONS,
            "schema_version",
            self.schema_version,
            f"one of {list(SCHEMA_VERSIONS)}",
        )
        for key in ("name", "version"):
            value = getattr(self, key)
            _check(isinstance(value, str) and bool(value), key, value, "a non-empty string")
        _check(
            _is_number(self.pixel_spacing_mm) and self.pixel_spacing_mm > 0,
            "pixel_spacing_mm",
            self.pixel_spacing_mm,
            "a positive number",
        )
        kinds = [c.kind for c in self.channels]
        _check(
            len(kinds) > 0 and len(set(kinds)) == len(kinds),
            "channels",
            [str(k) for k in kinds],
            "one or more distinct channel kinds",
        )
        for key, stage in (("global", self.global_model), ("patch", self.patch_model)):
            _check(
                stage.channels == len(kinds),
                f"{key}.input_shape",
                list(stage.input_shape),
                f"C = {len(kinds)} (the number of channels)",
            )
        h, w = self.patch_model.height_width
        _check(h == w, "patch.input_shape", list(self.patch_model.input_shape), "square crops")
        _check(
            self.score_activation == "sigmoid",
            "score_activation",
            self.score_activation,
            "'sigmoid'",
        )
        _check(
            len(self.class_names) == 1 and all(isinstance(c, str) for c in self.class_names),
            "class_names",
            list(self.class_names),
            "exactly one class name",
        )
        _check(
            isinstance(self.not_for_clinical_use, bool),
            "not_for_clinical_use",
            self.not_for_clinical_use,
            "true or false",
        )
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))

    @property
    def crop_size(self) -> int:
        """S: crops are S x S pixels at full resolution."""
        return self.patch_model.height_width[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (as in manifest.json)."""
        data = _plain(self)
        data["global"] = data.pop("global_model")
        data["patch"] = data.pop("patch_model")
        return json.loads(json.dumps(data))


def _plain(value: Any) -> Any:
    """Dataclasses, enums, tuples and mappings as plain JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@contextmanager
def _prefixed(prefix: str) -> Iterator[None]:
    try:
        yield
    except ModelError as error:
        raise ModelError(
            error.path, f"{prefix}.{error.field}", error.value, error.expected
        ) from None
    except TypeError as error:
        raise ModelError(_HERE, prefix, str(error), "only the documented fields") from None


def _stage(data: object, key: str) -> StageSpec:
    _check(isinstance(data, dict), key, data, "an object")
    assert isinstance(data, dict)
    items = dict(data)
    with _prefixed(key):
        items["input_shape"] = tuple(items.get("input_shape") or ())
        items["output_names"] = OutputNames(**dict(items.get("output_names") or {}))
        return StageSpec(**items)


def _items(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    _check(isinstance(value, list), key, value, "a list")
    return list(value)


def manifest_from_dict(data: object) -> ModelManifest:
    """Build and validate a manifest from its JSON object; raises ModelError."""
    _check(isinstance(data, dict), "(root)", type(data).__name__, "a JSON object")
    assert isinstance(data, dict)
    items = dict(data)
    _check(
        items.get("schema_version") in SCHEMA_VERSIONS,
        "schema_version",
        items.get("schema_version"),
        f"one of {list(SCHEMA_VERSIONS)}",
    )
    items["global_model"] = _stage(items.pop("global", None), "global")
    items["patch_model"] = _stage(items.pop("patch", None), "patch")
    channels = []
    for index, entry in enumerate(_items(items, "channels")):
        with _prefixed(f"channels[{index}]"):
            channels.append(ChannelSpec(**entry) if isinstance(entry, dict) else ChannelSpec(entry))
    items["channels"] = tuple(channels)
    with _prefixed("normalization"):
        items["normalization"] = Normalization(**dict(items.get("normalization") or {}))
    with _prefixed("fusion"):
        items["fusion"] = Fusion(**dict(items.get("fusion") or {}))
    points = []
    for index, entry in enumerate(_items(items, "operating_points")):
        with _prefixed(f"operating_points[{index}]"):
            points.append(OperatingPoint(**entry))
    items["operating_points"] = tuple(points)
    items["class_names"] = tuple(_items(items, "class_names") or ["malignant"])
    with _prefixed("manifest"):
        return ModelManifest(**items)


def parse_manifest(text: str | bytes, source: Path) -> ModelManifest:
    """Parse manifest JSON text; every refusal names `source`."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(source, "(json)", str(error), "valid UTF-8 JSON") from None
    try:
        return manifest_from_dict(data)
    except ModelError as error:
        name = error.field.removeprefix("manifest.")
        raise ModelError(source, name, error.value, error.expected) from None

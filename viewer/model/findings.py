"""AI findings of the open images, evented and Qt-free: status, result, crop selection, layers.

One `ImageFindings` per open image owns that image's AI layers (in the image's own `LayerList`,
so they are only ever drawn over it) and refuses a result whose identity is another image's.
`AiLayerStyle` is shared by all images: visibility per layer kind, heatmap opacity, colormap and
threshold, so the `H` key and the layers panel act on every view alike. `FindingsRegistry`
combines the results of the open images into breast and exam scores (`inference.fuse_views`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from psygnal import Signal

from inference import ExamScores, Result, Stage, fuse_views
from inference.manifest import OperatingPoint
from viewer.model.evidence import CROP_MAP_ROWS, display_map
from viewer.model.layers import (
    BoxesLayer,
    Colormap,
    HeatmapLayer,
    Layer,
    LayerError,
    LayerList,
    OutlineLayer,
    ScoredBox,
)

SCORE_SCALE_TEXT = (
    "Scores run from 0 to 1: how strongly the model's features match what it learned as "
    "malignant-looking. A score is not a probability of cancer and is not calibrated on patients."
)
NO_EVIDENCE_TEXT = "no positive evidence"


class FindingsError(ValueError):
    """A result was offered to the findings of another image, or a bad crop index."""


class AnalysisStatus(StrEnum):
    """Where the analysis of one image stands."""

    NOT_STARTED = "not started"
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class LayerKind(StrEnum):
    """The AI layer kinds the layers panel lists."""

    GLOBAL_HEATMAP = "global heatmap"
    CROP_HEATMAPS = "crop heatmaps"
    CROP_BOXES = "crop boxes"
    BREAST_OUTLINE = "breast outline"


HEATMAP_KINDS = (LayerKind.GLOBAL_HEATMAP, LayerKind.CROP_HEATMAPS)


@dataclass(frozen=True)
class ImageIdentity:
    """Which image a result belongs to: SOP Instance UID, file path and sha256 of the AI input.

    `pixel_sha256` is "" until known (the analysis computes it); two identities name the same
    image when UID and path agree and their hashes do where both are known.
    """

    sop_instance_uid: str
    path: str
    pixel_sha256: str = ""

    def same_image(self, other: ImageIdentity) -> bool:
        """True when `other` may be the same image (hashes compared only when both known)."""
        if (self.sop_instance_uid, self.path) != (other.sop_instance_uid, other.path):
            return False
        return not (self.pixel_sha256 and other.pixel_sha256) or (
            self.pixel_sha256 == other.pixel_sha256
        )


class AiLayerStyle:
    """How AI layers are drawn on every image: visibility per kind, heatmap look."""

    visibility_changed = Signal(str, bool)  # kind, visible
    opacity_changed = Signal(float)
    colormap_changed = Signal(str)
    threshold_changed = Signal(float)

    def __init__(self) -> None:
        self._visible = {kind: kind is not LayerKind.CROP_HEATMAPS for kind in LayerKind}
        self._opacity = 0.45
        self._colormap = Colormap.INFERNO
        self._threshold = 0.3
        self._hidden_by_toggle: list[LayerKind] = []

    def visible(self, kind: LayerKind) -> bool:
        """Whether layers of `kind` are drawn."""
        return self._visible[LayerKind(kind)]

    def set_visible(self, kind: LayerKind, value: bool) -> None:
        """Show or hide every layer of `kind`."""
        kind = LayerKind(kind)
        if bool(value) != self._visible[kind]:
            self._visible[kind] = bool(value)
            self.visibility_changed.emit(kind.value, bool(value))

    def toggle_heatmaps(self) -> None:
        """`H`: hide every heatmap; pressed again, show the kinds that were visible (or all)."""
        shown = [kind for kind in HEATMAP_KINDS if self._visible[kind]]
        if shown:
            self._hidden_by_toggle = shown
            for kind in shown:
                self.set_visible(kind, False)
            return
        for kind in self._hidden_by_toggle or HEATMAP_KINDS:
            self.set_visible(kind, True)
        self._hidden_by_toggle = []

    @property
    def opacity(self) -> float:
        """Heatmap opacity, 0..1."""
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        value = _unit(value, "heatmap opacity")
        if value != self._opacity:
            self._opacity = value
            self.opacity_changed.emit(value)

    @property
    def colormap(self) -> Colormap:
        """Heatmap colormap (perceptually uniform)."""
        return self._colormap

    @colormap.setter
    def colormap(self, value: Colormap | str) -> None:
        try:
            value = Colormap(value)
        except ValueError:
            allowed = ", ".join(c.value for c in Colormap)
            raise LayerError(f"heatmap colormap {value!r}: expected one of {allowed}") from None
        if value != self._colormap:
            self._colormap = value
            self.colormap_changed.emit(value.value)

    @property
    def threshold(self) -> float:
        """Heatmap values below this are not drawn."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        value = _unit(value, "heatmap threshold")
        if value != self._threshold:
            self._threshold = value
            self.threshold_changed.emit(value)

    def apply(self, layer: Layer, kind: LayerKind) -> None:
        """Give `layer` (of `kind`) the current style."""
        layer.visible = self.visible(kind)
        if isinstance(layer, HeatmapLayer):
            layer.opacity = self._opacity
            layer.colormap = self._colormap
            layer.threshold = self._threshold


def _unit(value: float, what: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise LayerError(f"{what} {value!r}: expected a number in [0, 1]")
    return value


def ai_layers(
    result: Result,
    outline: np.ndarray | None,
    style: AiLayerStyle,
    global_values: np.ndarray | None = None,
) -> list[tuple[LayerKind, Layer]]:
    """The layers of one result: global heatmap, crop heatmaps, crop boxes, breast outline.

    `global_values` replaces the global map's values on screen (e.g. zeroed outside the breast).
    """
    out: list[tuple[LayerKind, Layer]] = []
    heat = result.global_heatmap
    if not heat.all_zero:  # an all-zero map is "no positive evidence", not an empty overlay
        values = display_map(heat.values) if global_values is None else global_values
        out.append((LayerKind.GLOBAL_HEATMAP, HeatmapLayer("AI global heatmap", values, heat.box)))
    for crop in result.crops:
        if not crop.heatmap.all_zero:
            values = display_map(crop.heatmap.values, CROP_MAP_ROWS)
            crop_map = HeatmapLayer(f"AI crop {crop.rank} heatmap", values, crop.box)
            out.append((LayerKind.CROP_HEATMAPS, crop_map))
    boxes = tuple(ScoredBox(c.box, c.score, f"#{c.rank}") for c in result.crops)
    out.append((LayerKind.CROP_BOXES, BoxesLayer("AI crop boxes", boxes)))
    if outline is not None and len(outline) >= 3:
        out.append((LayerKind.BREAST_OUTLINE, OutlineLayer("AI breast outline", outline)))
    for kind, layer in out:
        style.apply(layer, kind)
    return out


class ImageFindings:
    """The AI state of one open image; its layers go into that image's `LayerList`."""

    status_changed = Signal(str)
    stage_changed = Signal(str)
    result_changed = Signal(object)  # Result | None
    hovered_changed = Signal(object)  # crop index | None
    selected_changed = Signal(object)  # crop index | None

    def __init__(self, identity: ImageIdentity, layers: LayerList, style: AiLayerStyle) -> None:
        self.identity = identity
        self.layers = layers
        self.style = style
        self._status = AnalysisStatus.NOT_STARTED
        self._stage: Stage | None = None
        self._result: Result | None = None
        self.error = ""
        self._hovered: int | None = None
        self._selected: int | None = None
        self._ai_layers: list[tuple[LayerKind, Layer]] = []
        self._pending: list[tuple[LayerKind, Layer]] = []
        self._incoming: Result | None = None
        style.visibility_changed.connect(self._on_visibility)
        style.opacity_changed.connect(self._restyle)
        style.colormap_changed.connect(self._restyle)
        style.threshold_changed.connect(self._restyle)

    @property
    def status(self) -> AnalysisStatus:
        """Where the analysis stands."""
        return self._status

    def _set_status(self, status: AnalysisStatus) -> None:
        if status != self._status:
            self._status = status
            self.status_changed.emit(status.value)

    @property
    def stage(self) -> Stage | None:
        """The stage the running analysis reported last."""
        return self._stage

    def set_waiting(self) -> None:
        """Queued behind another image's analysis."""
        self.error = ""
        self._set_status(AnalysisStatus.WAITING)

    def set_stage(self, stage: Stage) -> None:
        """Progress of the running analysis."""
        self._stage = Stage(stage)
        self._set_status(AnalysisStatus.RUNNING)
        self.stage_changed.emit(self._stage.value)

    def set_failed(self, message: str) -> None:
        """The analysis failed; `message` says why (shown in the panel)."""
        self.error = message
        self._set_status(AnalysisStatus.FAILED)

    def set_cancelled(self) -> None:
        """The analysis was cancelled (the user moved on, or settings changed)."""
        self._set_status(AnalysisStatus.CANCELLED)

    @property
    def result(self) -> Result | None:
        """The result shown for this image, or None."""
        return self._result

    def set_result(
        self,
        identity: ImageIdentity,
        result: Result,
        outline: np.ndarray | None = None,
        *,
        staged: bool = False,
        global_values: np.ndarray | None = None,
    ) -> None:
        """Show `result` (of the image `identity`) over this image; refuses another image's.

        With `staged`, layers are added one per `attach_next()` call (the GUI spreads their first
        drawing over several event-loop turns); the result counts as shown after the last one.
        """
        if not identity.same_image(self.identity) or (
            result.sop_instance_uid != self.identity.sop_instance_uid
        ):
            raise FindingsError(
                f"result of {identity.path} (SOP Instance UID {identity.sop_instance_uid}): "
                f"expected one of {self.identity.path} ({self.identity.sop_instance_uid})"
            )
        self.identity = identity
        self._remove_layers()
        self._result = None
        self._incoming = result
        self._hovered = self._selected = None
        self._pending = ai_layers(result, outline, self.style, global_values)
        if not staged:
            while self.attach_next():
                pass

    def attach_next(self) -> bool:
        """Add the next layer of an incoming result; True while more remain."""
        if self._pending:
            kind, layer = self._pending.pop(0)
            self._ai_layers.append((kind, layer))
            self.layers.append(layer)
        if self._pending or self._incoming is None:
            return bool(self._pending)
        self._result, self._incoming = self._incoming, None
        self.error = ""
        self._set_status(AnalysisStatus.DONE)
        self.result_changed.emit(self._result)
        return False

    def clear(self) -> None:
        """Forget the result and take its layers off the image."""
        self._remove_layers()
        self._result = None
        self._set_status(AnalysisStatus.NOT_STARTED)
        self.result_changed.emit(None)

    def detach(self) -> None:
        """Stop following the style and remove the layers (the image was closed)."""
        for signal, slot in self._style_slots():
            signal.disconnect(slot, missing_ok=True)
        self._remove_layers()

    def layer(self, kind: LayerKind) -> list[Layer]:
        """This image's layers of `kind`."""
        return [layer for k, layer in self._ai_layers if k is kind]

    @property
    def no_positive_evidence(self) -> bool:
        """True when the global Grad-CAM map is all zero."""
        return self._result is not None and self._result.global_heatmap.all_zero

    @property
    def hovered_crop(self) -> int | None:
        """Index (rank - 1) of the crop under the pointer in the findings list; its box is lit."""
        return self._hovered

    @hovered_crop.setter
    def hovered_crop(self, index: int | None) -> None:
        self._check_crop(index)
        if index != self._hovered:
            self._hovered = index
            for box_layer in self.layer(LayerKind.CROP_BOXES):
                assert isinstance(box_layer, BoxesLayer)
                box_layer.highlighted = index if index is not None else self._selected
            self.hovered_changed.emit(index)

    @property
    def selected_crop(self) -> int | None:
        """Index of the crop the reader clicked, or None."""
        return self._selected

    @selected_crop.setter
    def selected_crop(self, index: int | None) -> None:
        self._check_crop(index)
        if index != self._selected:
            self._selected = index
            for box_layer in self.layer(LayerKind.CROP_BOXES):
                assert isinstance(box_layer, BoxesLayer)
                box_layer.highlighted = index
            self.selected_changed.emit(index)

    def _check_crop(self, index: int | None) -> None:
        count = len(self._result.crops) if self._result is not None else 0
        if index is not None and not 0 <= index < count:
            raise FindingsError(f"crop index {index!r}: expected None or 0..{count - 1}")

    def _remove_layers(self) -> None:
        self._pending, self._incoming = [], None
        for _, layer in self._ai_layers:
            if layer in list(self.layers):
                self.layers.remove(layer)
        self._ai_layers = []

    def _style_slots(self) -> list:
        s = self.style
        return [
            (s.visibility_changed, self._on_visibility),
            (s.opacity_changed, self._restyle),
            (s.colormap_changed, self._restyle),
            (s.threshold_changed, self._restyle),
        ]

    def _on_visibility(self, kind: str, visible: bool) -> None:
        for layer in self.layer(LayerKind(kind)):
            layer.visible = visible

    def _restyle(self, *_: object) -> None:
        for kind, layer in self._ai_layers:
            self.style.apply(layer, kind)


class FindingsRegistry:
    """The findings of every open image; `changed` when any result comes or goes."""

    changed = Signal()

    def __init__(self) -> None:
        self._items: list[ImageFindings] = []

    def __iter__(self) -> Iterator[ImageFindings]:
        return iter(list(self._items))

    def add(self, findings: ImageFindings) -> None:
        """Follow one image's findings."""
        self._items.append(findings)
        findings.result_changed.connect(self._on_result)

    def remove(self, findings: ImageFindings) -> None:
        """Forget an image (closed); its layers are removed."""
        if findings in self._items:
            self._items.remove(findings)
            findings.result_changed.disconnect(self._on_result)
            findings.detach()
            self.changed.emit()

    def _on_result(self, _result: object) -> None:
        self.changed.emit()

    def results(self) -> list[Result]:
        """Results of the open images that have one."""
        return [f.result for f in self._items if f.result is not None]

    def exam_scores(self) -> ExamScores | None:
        """Per-breast and exam scores of the open images (the engine's fusion), or None."""
        results = self.results()
        return fuse_views(results) if results else None


def operating_point_text(score: float, points: Sequence[OperatingPoint]) -> str:
    """Where `score` lies among the manifest's operating points, in words."""
    if not points:
        return "The model declares no operating points."
    ordered = sorted(points, key=lambda p: p.threshold)
    reached = [p for p in ordered if score >= p.threshold]
    if not reached:
        low = ordered[0]
        return (
            f"Below every operating point (lowest: '{low.name}', threshold {low.threshold:.2f}, "
            f"{low.sensitivity:.0%} sensitivity)."
        )
    top = reached[-1]
    return (
        f"Above the {top.sensitivity:.0%}-sensitivity threshold ('{top.name}', "
        f"{top.threshold:.2f}; {top.specificity:.0%} specificity on the model's validation set)."
    )

"""The two-stage analysis of one mammogram: `Analyzer(model_dir).analyze(values, ...) -> Result`."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.errors import AnalysisCancelledError
from inference.fusion import crop_score, fused_score, sigmoid
from inference.manifest import ModelManifest
from inference.prepare import PreparedImage, crop_batch, prepare_image
from inference.regions import Region, select_regions
from inference.result import CamSource, CropFinding, Heatmap, Provenance, Result, Stage
from inference.session import Device, LoadedModel, load_model

SPACING_TOLERANCE = 0.2


@functools.cache
def app_version() -> str:
    """The installed mammolens version, or "unknown" when running from a bare source tree."""
    try:
        return importlib.metadata.version("mammolens")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _PixelHash:
    """sha256 of the input pixel bytes, computed in a thread (hashlib releases the GIL)."""

    def __init__(self, values: np.ndarray) -> None:
        self._values = np.ascontiguousarray(values)
        self._digest = ""
        self._thread = threading.Thread(target=self._run, name="pixel-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._digest = hashlib.sha256(memoryview(self._values.data).cast("B")).hexdigest()

    def result(self) -> str:
        self._thread.join()
        return self._digest


class _Clock:
    """Per-stage wall times in milliseconds, plus progress and cancellation between stages."""

    def __init__(
        self, progress: Callable[[Stage], None] | None, cancelled: Callable[[], bool] | None
    ) -> None:
        self.timings: dict[str, float] = {}
        self._progress = progress
        self._cancelled = cancelled
        self._start = time.perf_counter()
        self._last = self._start

    def stage(self, stage: Stage) -> None:
        if self._cancelled is not None and self._cancelled():
            raise AnalysisCancelledError(f"analysis cancelled before stage {stage.value}")
        if self._progress is not None:
            self._progress(stage)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round((now - self._last) * 1000, 3)
        self._last = now

    def total(self) -> None:
        self.timings["total"] = round((time.perf_counter() - self._start) * 1000, 3)


class Analyzer:
    """Loads a model folder once (sessions reused) and analyses images with it."""

    def __init__(
        self,
        model_dir: Path | str,
        device: Device = Device.AUTO,
        top_k: int = 6,
        threads: int | None = None,
    ) -> None:
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k = {top_k!r}: expected a positive integer")
        self._model: LoadedModel = load_model(model_dir, Device(device), threads)
        fixed = self._model.manifest.patch_model.input_shape[0]
        if isinstance(fixed, int) and top_k > fixed:
            raise ValueError(f"top_k = {top_k}: expected at most {fixed} (patch model batch size)")
        self._batch = fixed if isinstance(fixed, int) else None
        self.top_k = top_k

    @property
    def manifest(self) -> ModelManifest:
        """The loaded model's manifest."""
        return self._model.manifest

    @property
    def provider(self) -> str:
        """ "CUDAExecutionProvider" or "CPUExecutionProvider": where the sessions really run."""
        return self._model.provider

    def analyze(
        self,
        values: np.ndarray,
        *,
        pixel_spacing_mm: float,
        laterality: str,
        view: str,
        sop_instance_uid: str = "",
        progress: Callable[[Stage], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Result:
        """Analyse float32 modality values (rows, cols), dense tissue bright.

        Raises AnalysisCancelledError when `cancelled()` turns True between stages, and
        InputImageError for arrays that cannot be analysed. Boxes and heatmaps of the Result are in
        original image coordinates whatever the canonical flip.
        """
        clock = _Clock(progress, cancelled)
        pixel_hash = _PixelHash(values)
        clock.stage(Stage.SEGMENTING)
        prep = prepare_image(values, self.manifest, pixel_spacing_mm, laterality, clock.timings)
        clock.lap("preprocess")
        clock.timings["preprocess"] -= clock.timings["segmentation"]
        clock.stage(Stage.GLOBAL_MODEL)
        global_logits, global_cams = self._model.global_stage.run(prep.global_input)
        clock.lap("global_model")
        clock.stage(Stage.CROPS)
        regions = select_regions(
            global_cams[0], prep.transform, prep.mask, self.manifest.crop_size, self.top_k
        )
        batch = crop_batch(prep, [r.box for r in regions], self.manifest, self._batch)
        clock.lap("crops")
        crop_logits, crop_cams = self._model.patch_stage.run(batch)
        crop_logits, crop_cams = crop_logits[: len(regions)], crop_cams[: len(regions)]
        clock.lap("patch_model")
        rule = self.manifest.fusion
        fused = fused_score(float(global_logits[0]), crop_logits, rule)
        clock.stage(Stage.HEATMAPS)
        global_heatmap = _global_heatmap(global_cams[0], prep)
        findings = _findings(regions, crop_logits, crop_cams, prep, self.manifest.crop_size)
        clock.lap("heatmaps")
        digest = pixel_hash.result()
        clock.lap("pixel_hash_wait")
        clock.total()
        clock.stage(Stage.DONE)
        return Result(
            sop_instance_uid=sop_instance_uid,
            laterality=laterality,
            view=view,
            image_hw=prep.transform.image_hw,
            global_logit=float(global_logits[0]),
            image_score=float(sigmoid(global_logits[0])),
            crop_score=crop_score(crop_logits, rule),
            fused_score=fused,
            crops=findings,
            global_heatmap=global_heatmap,
            timings_ms=clock.timings,
            provider=self.provider,
            provenance=self._provenance(digest, sop_instance_uid, prep),
            warnings=self._warnings(pixel_spacing_mm, len(regions)),
        )

    def _warnings(self, spacing: float, found: int) -> tuple[str, ...]:
        out = []
        expected = self.manifest.pixel_spacing_mm
        if abs(spacing / expected - 1) > SPACING_TOLERANCE:
            out.append(
                f"pixel spacing {spacing} mm differs from the model's {expected} mm by "
                f"more than {SPACING_TOLERANCE:.0%}: crop scores may be unreliable"
            )
        if found < self.top_k:
            out.append(f"only {found} of {self.top_k} crops fit in the breast")
        return tuple(out)

    def _provenance(self, digest: str, uid: str, prep: PreparedImage) -> Provenance:
        model = self._model
        return Provenance(
            app_version=app_version(),
            model_name=self.manifest.name,
            model_version=self.manifest.version,
            global_model_sha256=model.global_stage.sha256,
            patch_model_sha256=model.patch_stage.sha256,
            onnxruntime_version=ort.__version__,
            provider=self.provider,
            input_sha256=digest,
            sop_instance_uid=uid,
            preprocessing={
                **prep.parameters(),
                "top_k": self.top_k,
                "normalization": self.manifest.to_dict()["normalization"],
                "channels": self.manifest.to_dict()["channels"],
            },
        )


def _global_heatmap(cam: np.ndarray, prep: PreparedImage) -> Heatmap:
    t = prep.transform
    source = CamSource(cam, t.grid_hw, t.content_hw, t.flipped)
    return Heatmap.from_cam(source, t.to_original_box((0, 0, t.covered_hw[0], t.covered_hw[1])))


def _findings(
    regions: list[Region], logits: np.ndarray, cams: np.ndarray, prep: PreparedImage, size: int
) -> tuple[CropFinding, ...]:
    t = prep.transform
    out = []
    for rank, (region, logit, cam) in enumerate(zip(regions, logits, cams, strict=True), start=1):
        r0, c0, r1, c1 = region.box
        source = CamSource(cam, (size, size), (r1 - r0, c1 - c0), t.flipped)
        box = t.to_original_box(region.box)
        out.append(
            CropFinding(
                rank,
                box,
                float(logit),
                float(sigmoid(logit)),
                region.saliency,
                Heatmap.from_cam(source, box),
            )
        )
    return tuple(out)

"""Model folders to ONNX Runtime sessions: integrity checks, graph checks, provider choice.

A session is created once per stage and reused. The provider is decided from
`session.get_providers()` of the session actually created: onnxruntime-gpu lists CUDA as available
on machines without a usable GPU and then quietly runs on CPU.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.errors import DeviceError, ModelError
from inference.manifest import (
    MANIFEST_FILE,
    METADATA_KEY,
    ModelManifest,
    StageSpec,
    parse_manifest,
)
from inference.onnxfile import OnnxFacts, ProtobufError, read_onnx_facts

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
EMBEDDING_FILE = "global.onnx"


class Device(StrEnum):
    """Where the models run: CUDA if it really works (AUTO), CUDA or an error (CUDA), CPU."""

    AUTO = "auto"
    CUDA = "cuda"
    CPU = "cpu"


def default_threads() -> int:
    """Intra-op threads: the machine's cores, at most 4 (small models gain nothing beyond)."""
    return max(1, min(4, os.cpu_count() or 1))


def session_options(threads: int, quiet: bool = False) -> ort.SessionOptions:
    """Explicit threads, sequential execution, full graph optimization, deterministic kernels."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.use_deterministic_compute = True
    options.log_severity_level = 4 if quiet else 2
    # Idle worker threads sleep instead of spinning: the viewer's GUI shares these cores, and on a
    # loaded 2-core machine spinning made a global-model run slower and cost twice the CPU time.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _create(path: Path, providers: list[str], threads: int, quiet: bool) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads, quiet), providers=providers
        )
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise ModelError(
            path,
            "(onnx graph)",
            str(error).splitlines()[0][:300],
            "an ONNX model that onnxruntime can load",
        ) from None


# Set once CUDA failed to start in this process, so `auto` does not retry (and re-log) per model.
_cuda_failed = False


def _create_cuda(path: Path, threads: int, quiet: bool) -> ort.InferenceSession:
    """A session asking for CUDA first; in `auto` mode onnxruntime's failure log is silenced."""
    if not quiet:
        return _create(path, [CUDA, CPU], threads, quiet=False)
    # The missing-library error is logged by onnxruntime's default logger, not the session's.
    ort.set_default_logger_severity(4)
    try:
        return _create(path, [CUDA, CPU], threads, quiet=True)
    finally:
        ort.set_default_logger_severity(2)


def create_session(path: Path, device: Device, threads: int) -> tuple[ort.InferenceSession, str]:
    """Open `path` on `device`; returns the session and the provider it really runs on."""
    available = ort.get_available_providers()
    if device is Device.CUDA and CUDA not in available:
        raise DeviceError(
            f"{path}: device 'cuda' requested but this onnxruntime build has no CUDA execution "
            f"provider (available: {', '.join(available)}); install onnxruntime-gpu or use 'cpu'"
        )
    global _cuda_failed
    if device is Device.CUDA or (device is Device.AUTO and CUDA in available and not _cuda_failed):
        session = _create_cuda(path, threads, quiet=device is Device.AUTO)
        if session.get_providers()[0] == CUDA:
            return session, CUDA
        _cuda_failed = True
        if device is Device.CUDA:
            raise DeviceError(
                f"{path}: device 'cuda' requested but onnxruntime could not start the CUDA "
                f"execution provider (no GPU, or CUDA/cuDNN libraries missing; the session "
                f"fell back to {session.get_providers()}); use device 'cpu' or 'auto'"
            )
    return _create(path, [CPU], threads, quiet=False), CPU


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inside(folder: Path, candidate: Path) -> bool:
    return candidate.resolve().is_relative_to(folder.resolve())


def check_external_data(path: Path, facts: OnnxFacts) -> None:
    """Refuse external-data locations that are absolute, leave the model folder or do not exist."""
    folder = path.parent
    for tensor in facts.external_tensors:
        location = tensor.location
        field = f"{path.name}: initializer {tensor.tensor_name!r} external_data.location"
        if not location or os.path.isabs(location) or Path(location).drive:
            raise ModelError(path, field, location, "a relative path inside the model folder")
        if not _inside(folder, folder / location):
            raise ModelError(path, field, location, "a path that stays inside the model folder")
        if not (folder / location).is_file():
            raise ModelError(path, field, location, "an existing file in the model folder")


def _read_checked(folder: Path, spec: StageSpec, key: str) -> tuple[Path, OnnxFacts]:
    path = folder / spec.file
    if not _inside(folder, path) or not path.is_file():
        raise ModelError(path, f"{key}.file", spec.file, "an ONNX file inside the model folder")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if spec.sha256 and digest != spec.sha256:
        raise ModelError(path, f"{key}.sha256", spec.sha256, f"the file's sha256 {digest}")
    try:
        facts = read_onnx_facts(data)
    except ProtobufError as error:
        raise ModelError(path, f"{key}.file", spec.file, f"an ONNX protobuf ({error})") from None
    check_external_data(path, facts)
    return path, facts


def _shape_matches(declared: tuple[int | str, ...], actual: list[object]) -> bool:
    if len(declared) != len(actual):
        return False
    for want, got in zip(declared, actual, strict=True):
        if isinstance(want, int) and want != got:
            return False
        if isinstance(want, str) and isinstance(got, int):
            return False
    return True


def check_graph(path: Path, spec: StageSpec, key: str, session: ort.InferenceSession) -> None:
    """The manifest's input/output names, shapes and dtypes must be the session's."""
    inputs = session.get_inputs()
    names = [i.name for i in inputs]
    if names != [spec.input_name]:
        raise ModelError(path, f"{key}.input_name", spec.input_name, f"the graph's inputs {names}")
    if inputs[0].type != "tensor(float)":
        raise ModelError(path, f"{key}.dtype", spec.dtype, f"the graph's type {inputs[0].type}")
    if not _shape_matches(spec.input_shape, list(inputs[0].shape)):
        raise ModelError(
            path,
            f"{key}.input_shape",
            list(spec.input_shape),
            f"the graph's input shape {list(inputs[0].shape)}",
        )
    outputs = {o.name: o for o in session.get_outputs()}
    for role, rank in (("logit", 2), ("cam", 4)):
        name = getattr(spec.output_names, role)
        if name not in outputs:
            raise ModelError(
                path,
                f"{key}.output_names.{role}",
                name,
                f"one of the graph's outputs {sorted(outputs)}",
            )
        shape = list(outputs[name].shape)
        if len(shape) != rank or (isinstance(shape[1], int) and shape[1] != 1):
            raise ModelError(
                path,
                f"{key}.output_names.{role}",
                name,
                f"an output of shape [N, 1{', h, w' if rank == 4 else ''}], found {shape}",
            )


@dataclass(frozen=True, eq=False)
class StageSession:
    """One checked, reusable session of a stage."""

    spec: StageSpec
    path: Path
    sha256: str
    session: ort.InferenceSession
    provider: str

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run a float32 NCHW batch; returns (logits [N], cam maps [N, h, w]) as float32."""
        names = [self.spec.output_names.logit, self.spec.output_names.cam]
        logit, cam = self.session.run(names, {self.spec.input_name: batch})
        return (np.asarray(logit, np.float32).reshape(-1), np.asarray(cam, np.float32)[:, 0])


def open_stage(
    folder: Path, spec: StageSpec, key: str, device: Device, threads: int
) -> StageSession:
    """Check the file (hash, external data), create the session, check the graph against `spec`."""
    path, _ = _read_checked(folder, spec, key)
    session, provider = create_session(path, device, threads)
    check_graph(path, spec, key, session)
    return StageSession(spec, path, sha256_file(path), session, provider)


def load_manifest(model_dir: Path | str) -> ModelManifest:
    """Read `manifest.json`, or without one the manifest embedded in `global.onnx` metadata.

    A manifest.json must give the sha256 of both files. An embedded manifest cannot hold the hash
    of the file that carries it, so that entry must be "" and the other file's hash is checked.
    """
    folder = Path(model_dir)
    manifest_path = folder / MANIFEST_FILE
    if manifest_path.is_file():
        manifest = parse_manifest(manifest_path.read_bytes(), manifest_path)
        for key, spec in (("global", manifest.global_model), ("patch", manifest.patch_model)):
            if not spec.sha256:
                raise ModelError(manifest_path, f"{key}.sha256", spec.sha256, "64 hex digits")
        return manifest
    carrier = folder / EMBEDDING_FILE
    if not carrier.is_file():
        raise ModelError(
            folder,
            MANIFEST_FILE,
            str(manifest_path),
            f"a manifest.json or a {EMBEDDING_FILE} with embedded metadata",
        )
    try:
        metadata = read_onnx_facts(carrier.read_bytes()).metadata
    except ProtobufError as error:
        raise ModelError(carrier, "(protobuf)", str(error), "an ONNX file") from None
    if METADATA_KEY not in metadata:
        raise ModelError(
            carrier, f"metadata_props.{METADATA_KEY}", sorted(metadata), "an embedded manifest"
        )
    manifest = parse_manifest(metadata[METADATA_KEY], carrier)
    if manifest.global_model.file != EMBEDDING_FILE or manifest.global_model.sha256:
        raise ModelError(
            carrier,
            "global.sha256",
            manifest.global_model.sha256,
            f'"" and file {EMBEDDING_FILE!r} for the file carrying the manifest',
        )
    return manifest


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A manifest and its two checked sessions, on one provider."""

    folder: Path
    manifest: ModelManifest
    global_stage: StageSession
    patch_stage: StageSession

    @property
    def provider(self) -> str:
        """The execution provider both stages run on."""
        return self.global_stage.provider


def load_model(
    model_dir: Path | str, device: Device = Device.AUTO, threads: int | None = None
) -> LoadedModel:
    """Load and check a model folder; raises ModelError or DeviceError."""
    folder = Path(model_dir)
    manifest = load_manifest(folder)
    count = threads or default_threads()
    global_stage = open_stage(folder, manifest.global_model, "global", device, count)
    # The patch stage follows the global stage's provider so both report the same one.
    patch_device = Device.CUDA if global_stage.provider == CUDA else Device.CPU
    patch_stage = open_stage(folder, manifest.patch_model, "patch", patch_device, count)
    return LoadedModel(folder, manifest, global_stage, patch_stage)

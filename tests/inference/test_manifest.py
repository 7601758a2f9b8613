"""Manifest validation and every loading refusal, each with a broken model folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from inference import Device, ModelError, load_manifest, load_model
from inference.manifest import CamPooling, ChannelKind, parse_manifest
from inference.onnxfile import read_onnx_facts
from tests.inference.testmodels import cam_graph, manifest_dict, rehash, rewrite_manifest


def _refused(folder: Path) -> ModelError:
    with pytest.raises(ModelError) as info:
        load_model(folder, Device.CPU)
    return info.value


def test_valid_folder_loads_with_typed_manifest(fresh_model: Path) -> None:
    model = load_model(fresh_model, Device.CPU)
    manifest = model.manifest
    assert manifest.global_model.height_width == (256, 208)
    assert manifest.crop_size == 64
    assert manifest.global_model.cam_pooling is CamPooling.AVG
    assert manifest.channels[0].kind is ChannelKind.INTENSITY
    assert model.provider == "CPUExecutionProvider"
    assert manifest.to_dict()["global"]["input_shape"] == [1, 1, 256, 208]


def test_sha256_mismatch_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"patch.sha256": "0" * 64})
    error = _refused(fresh_model)
    assert error.field == "patch.sha256" and error.value == "0" * 64
    assert "patch.onnx" in str(error)


def test_modified_onnx_file_is_refused(fresh_model: Path) -> None:
    with (fresh_model / "global.onnx").open("ab") as stream:
        stream.write(b"\x00")
    assert _refused(fresh_model).field == "global.sha256"


def test_unknown_schema_version_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, schema_version=99)
    error = _refused(fresh_model)
    assert error.field == "schema_version" and error.value == 99


def test_input_name_not_in_graph_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"global.input_name": "pixels"})
    error = _refused(fresh_model)
    assert error.field == "global.input_name" and error.value == "pixels"
    assert "['image']" in str(error)


def test_input_shape_not_in_graph_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"global.input_shape": [1, 1, 512, 208]})
    error = _refused(fresh_model)
    assert error.field == "global.input_shape" and error.value == [1, 1, 512, 208]


def test_output_name_not_in_graph_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"patch.output_names": {"logit": "logit", "cam": "saliency"}})
    error = _refused(fresh_model)
    assert error.field == "patch.output_names.cam" and error.value == "saliency"


def test_channel_count_must_match_input_shape(fresh_model: Path) -> None:
    rewrite_manifest(
        fresh_model, channels=[{"kind": "intensity"}, {"kind": "highpass_max", "sigma_mm": 0.5}]
    )
    error = _refused(fresh_model)
    assert error.field == "global.input_shape"


def test_unknown_channel_kind_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, channels=[{"kind": "colour"}])
    error = _refused(fresh_model)
    assert error.field == "channels[0].kind" and error.value == "colour"


def test_highpass_without_sigma_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, channels=[{"kind": "highpass_max"}])
    assert _refused(fresh_model).field == "channels[0].sigma_mm"


def test_unknown_field_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"global.weights_url": "http://example.org"})
    error = _refused(fresh_model)
    assert error.field == "global" and "weights_url" in str(error.value)


def test_file_name_leaving_folder_is_refused(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"global.file": "../global.onnx"})
    assert _refused(fresh_model).field == "global.file"


def test_not_json_is_refused(fresh_model: Path) -> None:
    (fresh_model / "manifest.json").write_text("{not json")
    assert _refused(fresh_model).field == "(json)"


def test_bad_operating_point_is_refused(fresh_model: Path) -> None:
    point = {"name": "x", "threshold": 1.5, "sensitivity": 0.9, "specificity": 0.9}
    rewrite_manifest(fresh_model, operating_points=[point])
    error = _refused(fresh_model)
    assert error.field == "operating_points[0].threshold" and error.value == 1.5


def _with_external(folder: Path, location: str) -> None:
    """Move the global model's kernel into external data at `location` (relative to folder)."""
    model = onnx.load(str(folder / "global.onnx"))
    tensor = next(t for t in model.graph.initializer if t.name == "W")
    data = numpy_helper.to_array(tensor)
    target = (folder / location).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.tobytes())
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    (folder / "global.onnx").write_bytes(model.SerializeToString())
    rehash(folder, "global")


def test_external_data_inside_folder_loads(fresh_model: Path) -> None:
    _with_external(fresh_model, "weights.bin")
    assert load_model(fresh_model, Device.CPU).global_stage.provider == "CPUExecutionProvider"


def test_external_data_leaving_folder_is_refused(fresh_model: Path) -> None:
    _with_external(fresh_model, "../outside.bin")
    error = _refused(fresh_model)
    assert "external_data.location" in error.field and error.value == "../outside.bin"


def test_absolute_external_data_is_refused(fresh_model: Path, tmp_path: Path) -> None:
    _with_external(fresh_model, "weights.bin")
    model = onnx.load(str(fresh_model / "global.onnx"), load_external_data=False)
    absolute = str(fresh_model / "weights.bin")
    model.graph.initializer[0].external_data[0].value = absolute
    (fresh_model / "global.onnx").write_bytes(model.SerializeToString())
    rehash(fresh_model, "global")
    error = _refused(fresh_model)
    assert error.value == absolute and "external_data.location" in error.field


def test_external_data_symlink_out_of_folder_is_refused(fresh_model: Path, tmp_path: Path) -> None:
    _with_external(fresh_model, "weights.bin")
    outside = tmp_path / "elsewhere.bin"
    os.replace(fresh_model / "weights.bin", outside)
    (fresh_model / "weights.bin").symlink_to(outside)
    assert _refused(fresh_model).value == "weights.bin"


def test_external_data_in_subgraph_is_found() -> None:
    inner_tensor = numpy_helper.from_array(np.ones(2, np.float32), "inner")
    inner_tensor.ClearField("raw_data")
    inner_tensor.data_location = TensorProto.EXTERNAL
    entry = inner_tensor.external_data.add()
    entry.key, entry.value = "location", "../../x.bin"
    branch = helper.make_graph(
        [helper.make_node("Identity", ["inner"], ["out"])],
        "branch",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2])],
        [inner_tensor],
    )
    node = helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    facts = read_onnx_facts(model.SerializeToString())
    assert [t.location for t in facts.external_tensors] == ["../../x.bin", "../../x.bin"]


def _embed(folder: Path, manifest: dict) -> None:
    model = onnx.load(str(folder / "global.onnx"))
    entry = model.metadata_props.add()
    entry.key, entry.value = "mammolens_manifest", json.dumps(manifest)
    (folder / "global.onnx").write_bytes(model.SerializeToString())
    (folder / "manifest.json").unlink()


def test_embedded_manifest_is_read_and_matches_onnxruntime(fresh_model: Path) -> None:
    manifest = json.loads((fresh_model / "manifest.json").read_text())
    manifest["global"]["sha256"] = ""
    _embed(fresh_model, manifest)
    loaded = load_manifest(fresh_model)
    assert loaded.name == "test-model" and loaded.patch_model.sha256 == manifest["patch"]["sha256"]
    session = ort.InferenceSession(str(fresh_model / "global.onnx"))
    embedded = session.get_modelmeta().custom_metadata_map["mammolens_manifest"]
    assert json.loads(embedded) == manifest
    assert load_model(fresh_model, Device.CPU).manifest == loaded


def test_embedded_manifest_claiming_its_own_hash_is_refused(fresh_model: Path) -> None:
    manifest = json.loads((fresh_model / "manifest.json").read_text())
    _embed(fresh_model, manifest)
    with pytest.raises(ModelError) as info:
        load_manifest(fresh_model)
    assert info.value.field == "global.sha256"


def test_folder_without_any_manifest_is_refused(fresh_model: Path) -> None:
    (fresh_model / "manifest.json").unlink()
    with pytest.raises(ModelError) as info:
        load_manifest(fresh_model)
    assert info.value.field == "metadata_props.mammolens_manifest"


def test_manifest_requires_hashes_in_manifest_json(fresh_model: Path) -> None:
    rewrite_manifest(fresh_model, **{"global.sha256": ""})
    with pytest.raises(ModelError) as info:
        load_manifest(fresh_model)
    assert info.value.field == "global.sha256"


def test_parse_names_source_and_nested_field(tmp_path: Path) -> None:
    data = manifest_dict((64, 64), 32, [{"kind": "intensity"}])
    data["normalization"]["std"] = 0
    with pytest.raises(ModelError) as info:
        parse_manifest(json.dumps(data), tmp_path / "m.json")
    assert info.value.field == "normalization.std" and info.value.value == 0
    assert str(info.value).startswith(str(tmp_path / "m.json"))


def test_graph_that_onnxruntime_cannot_load_is_refused(fresh_model: Path) -> None:
    bad = cam_graph("g", "image", [1, 1, 256, 208], 8, 0.6)
    bad.graph.node[0].op_type = "NoSuchOp"
    (fresh_model / "global.onnx").write_bytes(bad.SerializeToString())
    rehash(fresh_model, "global")
    assert _refused(fresh_model).field == "(onnx graph)"

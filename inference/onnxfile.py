"""A minimal, read-only walk of an ONNX protobuf: external-data locations and metadata, no `onnx`.

`onnx` is not an app dependency, so the few facts the loader must check before handing a file to
onnxruntime are read straight from the protobuf wire format (varints and length-delimited fields).
Only the fields below are looked at; everything else (weights included) is skipped by length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Field numbers from onnx/onnx.proto3 (stable since IR version 3).
_MODEL_GRAPH, _MODEL_METADATA, _MODEL_FUNCTIONS = 7, 14, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_FUNCTION_NODE = 7
_NODE_ATTRIBUTE = 5
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS = 5, 6, 10, 11
_ATTR_SPARSE_TENSOR, _ATTR_SPARSE_TENSORS = 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_ENTRY_KEY, _ENTRY_VALUE = 1, 2
_MAX_DEPTH = 64


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class ExternalTensor:
    """An initializer whose data lives in another file."""

    tensor_name: str
    location: str


@dataclass(frozen=True)
class OnnxFacts:
    """What the loader checks before onnxruntime opens the file."""

    external_tensors: tuple[ExternalTensor, ...]
    metadata: dict[str, str]


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError(f"truncated varint at byte {pos}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) of one message; nested messages stay as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError(f"field {number} runs past the end of its message")
            yield number, wire, data[pos : pos + length]
            pos += length
        else:
            raise ProtobufError(f"unsupported wire type {wire} for field {number}")
        if pos > len(data):
            raise ProtobufError("message truncated")


def _messages(data: memoryview, number: int) -> Iterator[memoryview]:
    for field_number, wire, value in _fields(data):
        if field_number == number and wire == 2 and isinstance(value, memoryview):
            yield value


def _entry(data: memoryview) -> tuple[str, str]:
    key = value = ""
    for number, wire, raw in _fields(data):
        if wire == 2 and isinstance(raw, memoryview):
            text = bytes(raw).decode("utf-8", errors="replace")
            key, value = (text, value) if number == _ENTRY_KEY else (key, text)
    return key, value


def _tensor(data: memoryview, found: list[ExternalTensor]) -> None:
    name, location, external = "", "", False
    for number, wire, value in _fields(data):
        if number == _TENSOR_NAME and isinstance(value, memoryview):
            name = bytes(value).decode("utf-8", errors="replace")
        elif number == _TENSOR_DATA_LOCATION and wire == 0:
            external = external or value == 1
        elif number == _TENSOR_EXTERNAL_DATA and isinstance(value, memoryview):
            key, text = _entry(value)
            if key == "location":
                location, external = text, True
    if external:
        found.append(ExternalTensor(name, location))


def _sparse(data: memoryview, found: list[ExternalTensor]) -> None:
    for number in (_SPARSE_VALUES, _SPARSE_INDICES):
        for tensor in _messages(data, number):
            _tensor(tensor, found)


def _attribute(data: memoryview, found: list[ExternalTensor], depth: int) -> None:
    for number, _, value in _fields(data):
        if not isinstance(value, memoryview):
            continue
        if number in (_ATTR_TENSOR, _ATTR_TENSORS):
            _tensor(value, found)
        elif number in (_ATTR_GRAPH, _ATTR_GRAPHS):
            _graph(value, found, depth + 1)
        elif number in (_ATTR_SPARSE_TENSOR, _ATTR_SPARSE_TENSORS):
            _sparse(value, found)


def _nodes(data: memoryview, number: int, found: list[ExternalTensor], depth: int) -> None:
    for node in _messages(data, number):
        for attribute in _messages(node, _NODE_ATTRIBUTE):
            _attribute(attribute, found, depth)


def _graph(data: memoryview, found: list[ExternalTensor], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ProtobufError(f"subgraphs nested deeper than {_MAX_DEPTH}")
    for tensor in _messages(data, _GRAPH_INITIALIZER):
        _tensor(tensor, found)
    for sparse in _messages(data, _GRAPH_SPARSE_INITIALIZER):
        _sparse(sparse, found)
    _nodes(data, _GRAPH_NODE, found, depth)


def read_onnx_facts(data: bytes) -> OnnxFacts:
    """Every external-data tensor (initializers, sparse, attributes, subgraphs) and the metadata.

    Raises ProtobufError when the bytes are not a well-formed ModelProto.
    """
    view = memoryview(data)
    found: list[ExternalTensor] = []
    metadata: dict[str, str] = {}
    for number, _, value in _fields(view):
        if not isinstance(value, memoryview):
            continue
        if number == _MODEL_GRAPH:
            _graph(value, found, 0)
        elif number == _MODEL_METADATA:
            key, text = _entry(value)
            metadata[key] = text
        elif number == _MODEL_FUNCTIONS:
            _nodes(value, _FUNCTION_NODE, found, 0)
    return OnnxFacts(tuple(found), metadata)

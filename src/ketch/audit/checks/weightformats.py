"""Recognise a model-weights file from its first bytes and structure, and say what the header says.

Each reader takes a member's name and first piece and returns a `Model` or None. Magic and
structure decide; the extension only confirms a format whose bytes carry no magic of their own
(ONNX's protobuf, a safetensors header length). Nothing is unpickled, nothing decoded past the
header, every length from the file is capped before use.
"""

from __future__ import annotations

import ast
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from ketch.audit.checks import gguf

SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
NPY_MAX_HEADER = 65536
# torch.save's legacy format: pickle protocol 2, then the magic number 0x1950a86a20f9469cfc6c as a LONG1
TORCH_LEGACY_HEAD = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
_GGML_LEGACY = {b"lmgg": "GGML", b"fmgg": "GGMF", b"tjgg": "GGJT"}  # u32 magics, little-endian
_ST_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                   "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
_KERAS_MARKERS = (b"keras_version", b"model_weights", b"weight_names", b"layer_names", b"model_config")


@dataclass
class Model:
    """What one weights file is, as far as its header tells."""

    format: str                      # "GGUF", "safetensors", "PyTorch", "ONNX", "NumPy", ...
    parameters: int | None = None
    architecture: str = ""
    name: str = ""
    size_label: str = ""
    dtype: str = ""                  # quantization for GGUF, dtype mix for safetensors / NumPy
    tensors: int | None = None
    confirmed: bool = True           # False: magic matched but the header would not read
    generic: bool = False            # an array container (NumPy, plain HDF5), weights only perhaps
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def read(name: str, data: bytes, whole: bool) -> Model | None:
    """The first reader that recognises `data` (a member's first piece), or None."""
    lower = name.lower()
    for reader in (_gguf, _safetensors, _npy, _torch_legacy, _hdf5, _tflite, _ggml_legacy, _onnx):
        found = reader(lower, data, whole)
        if found is not None:
            return found
    return None


def _gguf(lower: str, data: bytes, whole: bool) -> Model | None:
    if not gguf.looks_like_gguf(data):
        return None
    try:
        header = gguf.parse(data, whole)
    except ValueError as exc:
        if lower.endswith(".gguf") or data[4:8] in (b"\x01\0\0\0", b"\x02\0\0\0", b"\x03\0\0\0"):
            return Model("GGUF", confirmed=False, note=str(exc))
        return None
    meta = header.metadata
    return Model(
        "GGUF", parameters=header.parameters, architecture=_text(meta.get("general.architecture")),
        name=_text(meta.get("general.name")), size_label=_text(meta.get("general.size_label")),
        dtype=header.quantization, tensors=header.tensor_count,
        note="header continues past the first piece" if header.truncated else "",
        extra={"gguf_version": header.version, "metadata_pairs": header.kv_count})


def _text(value: Any) -> str:
    return value[:200] if isinstance(value, str) else ""


def _safetensors(lower: str, data: bytes, whole: bool) -> Model | None:
    named = lower.endswith(".safetensors")
    if len(data) < 10:
        return None
    (length,) = struct.unpack_from("<Q", data, 0)
    if data[8:9] != b"{" or not 2 <= length <= SAFETENSORS_MAX_HEADER:
        return Model("safetensors", confirmed=False, note=f"header length {length}") if named else None
    if 8 + length > len(data):
        return Model("safetensors", confirmed=False, note="header longer than the file") if named else None
    try:
        header = json.loads(data[8:8 + length])
    except (ValueError, RecursionError):
        return Model("safetensors", confirmed=False, note="header is not JSON") if named else None
    if not isinstance(header, dict):
        return None
    params, tensors = 0, 0
    dtypes: dict[str, int] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(info, dict) and isinstance(info.get("dtype"), str)
                and _int_list(info.get("shape")) and _int_list(info.get("data_offsets"))):
            return Model("safetensors", confirmed=False, note=f"tensor {key[:60]!r} lacks dtype/shape") if named else None
        params += math.prod(info["shape"])
        dtypes[info["dtype"]] = dtypes.get(info["dtype"], 0) + 1
        tensors += 1
    if tensors == 0 and not named:
        return None
    return Model("safetensors", parameters=params, dtype=_mix(dtypes), tensors=tensors)


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def _mix(counts: dict[str, int]) -> str:
    return ", ".join(k for k, _ in sorted(counts.items(), key=lambda kv: -kv[1]))


def npy_header(data: bytes) -> tuple[str, tuple[int, ...]] | None:
    """descr and shape of a .npy head, or None. Only the bounded header dict is ever evaluated."""
    if data[:6] != b"\x93NUMPY" or len(data) < 10:
        return None
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack_from("<H", data, 8), 10
    elif major in (2, 3) and len(data) >= 12:
        (hlen,), start = struct.unpack_from("<I", data, 8), 12
    else:
        return None
    if hlen > NPY_MAX_HEADER or start + hlen > len(data):
        return None
    try:
        meta = ast.literal_eval(data[start:start + hlen].decode("latin-1").strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(meta, dict):
        return None
    shape, descr = meta.get("shape"), meta.get("descr")
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        return None
    return (descr if isinstance(descr, str) else "structured"), shape


def _npy(lower: str, data: bytes, whole: bool) -> Model | None:
    if data[:6] != b"\x93NUMPY":
        return None
    head = npy_header(data)
    if head is None:
        return Model("NumPy", confirmed=False, generic=True, note="unreadable .npy header")
    descr, shape = head
    return Model("NumPy", parameters=math.prod(shape), dtype=descr, tensors=1, generic=True,
                 extra={"shape": list(shape)[:8]})


def _torch_legacy(lower: str, data: bytes, whole: bool) -> Model | None:
    if data.startswith(TORCH_LEGACY_HEAD):
        return Model("PyTorch", note="legacy pickle format (torch.save before 1.6)")
    return None


def zip_first_name(data: bytes) -> str | None:
    """The first member name of a zip from its first local header, or None."""
    if data[:4] != ZIP_MAGIC or len(data) < 30:
        return None
    name_len = struct.unpack_from("<H", data, 26)[0]
    if 30 + name_len > len(data):
        return None
    return data[30:30 + name_len].decode("utf-8", "replace")


def is_torch_pickle_path(inner: str) -> bool:
    """A zip member `archive/data.pkl` (torch.save since 1.6) or a top-level `data.pkl`."""
    parts = inner.split("/")
    return parts[-1] == "data.pkl" and len(parts) <= 2


def _hdf5(lower: str, data: bytes, whole: bool) -> Model | None:
    # HDF5 puts its superblock at 0 or after a user block of 512, 1024, 2048... bytes
    if not any(data[at:at + 8] == HDF5_MAGIC for at in (0, 512, 1024, 2048)):
        return None
    head = data[:1 << 20]
    if lower.endswith((".weights.h5", ".keras")) or any(m in head for m in _KERAS_MARKERS):
        return Model("Keras/HDF5", note="Keras weights (HDF5)")
    return Model("HDF5", generic=True, note="HDF5 data: weights if it came out of Keras or a trainer")


def _tflite(lower: str, data: bytes, whole: bool) -> Model | None:
    # a flatbuffer with the file identifier "TFL3" after the root offset
    return Model("TensorFlow Lite") if data[4:8] == b"TFL3" and len(data) > 16 else None


def _ggml_legacy(lower: str, data: bytes, whole: bool) -> Model | None:
    fmt = _GGML_LEGACY.get(data[:4])
    if fmt is None:
        return None
    # GGMF and GGJT carry a version (1-3) next; unversioned GGML carries the vocabulary size
    second = struct.unpack_from("<I", data, 4)[0] if len(data) >= 8 else 0
    if not (1 <= second <= 16 if fmt != "GGML" else 1 <= second <= 1 << 20):
        return None
    return Model(fmt, note="legacy llama.cpp format (before GGUF)")


def _onnx(lower: str, data: bytes, whole: bool) -> Model | None:
    """ModelProto: field 1 ir_version (tag 0x08), then producer_name (2), ... graph (7)."""
    if data[:1] != b"\x08":
        return None
    fields = _protobuf_fields(data[:1 << 16], limit=12)
    if fields is None or not fields or fields[0][0] != 1 or not 1 <= fields[0][1] <= 64:
        return None
    numbers = {n for n, _ in fields}
    producer = next((bytes(v).decode("utf-8", "replace") for n, v in fields if n == 2 and isinstance(v, bytes)), "")
    if not (lower.endswith(".onnx") or "onnx" in producer.lower()) or not numbers & {2, 7, 8}:
        return None
    return Model("ONNX", name=producer[:80], extra={"ir_version": fields[0][1], "producer": producer[:80]})


def _protobuf_fields(data: bytes, limit: int) -> list[tuple[int, Any]] | None:
    """The first `limit` top-level fields (number, value); None if the bytes are not protobuf."""
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data) and len(out) < limit:
        key, pos = _varint(data, pos)
        if key is None:
            return out if out else None
        number, wire = key >> 3, key & 7
        if number == 0:
            return None
        if wire == 0:
            value, pos = _varint(data, pos)
            if value is None:
                return out
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if length is None:
                return out
            # a field that runs past what we hold ends the walk (the graph is long), it is not an error
            out.append((number, data[pos:pos + min(length, 256)]))
            if pos + length > len(data):
                return out
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            out.append((number, None))
        else:
            return None
    return out


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    result = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    return None, pos

"""Read a GGUF header from the first piece of a member: what model it is, never its tensors.

The spec (ggml docs/gguf.md): "GGUF", a u32 version, u64 tensor count, u64 metadata count
(u32 in version 1), then typed key/value pairs, then one info per tensor (name, dims, type,
offset). Every length comes from the file, so each is checked against the bytes we hold and
against a cap before it is used: a hostile header costs a ValueError, never memory or time.
Running off the end of a piece that is not the whole member is truncation (EOFError inside,
`truncated` outside): a real model whose vocabulary outgrows the first piece is still a model.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"GGUF"
MAX_COUNT = 1 << 24        # tensors, metadata pairs, array elements: far above any real model
MAX_STRING = 1 << 26       # 64 MB: a chat template or a merges entry is a few KB
MAX_NESTING = 4           # arrays of arrays: real files nest one level, if at all
MAX_DIMS = 8               # ggml's GGML_MAX_DIMS is 4

# general.file_type (llama_ftype): how the model as a whole was quantized.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_1_SOME_F16", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS",
    24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS",
    31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}
# ggml_type of one tensor, for the dtype mix when general.file_type is absent.
TENSOR_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
    11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS",
    18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8",
    25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
    39: "MXFP4",
}
# value type → struct format of a scalar (8 string, 9 array are read apart)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_WANTED = ("general.architecture", "general.name", "general.size_label", "general.file_type",
           "general.basename", "general.finetune", "general.quantization_version")


@dataclass
class GgufHeader:
    version: int
    tensor_count: int
    kv_count: int
    metadata: dict[str, Any] = field(default_factory=dict)
    parameters: int | None = None   # None when the tensor infos lie past the piece
    tensor_types: dict[str, int] = field(default_factory=dict)
    truncated: bool = False         # the piece ended inside the header (not an error)

    @property
    def quantization(self) -> str:
        ftype = self.metadata.get("general.file_type")
        if isinstance(ftype, int) and not isinstance(ftype, bool):
            return FILE_TYPES.get(ftype, f"file_type {ftype}")
        if self.tensor_types:  # the type most tensors use
            return max(self.tensor_types.items(), key=lambda kv: kv[1])[0]
        return ""


class _Cursor:
    """Bounded reads over a memoryview: EOFError past the end, nothing else implicit."""

    def __init__(self, data: bytes, pos: int, wide: bool) -> None:
        self.view = memoryview(data)
        self.pos = pos
        self.wide = wide  # u64 lengths and counts (versions 2 and 3); version 1 used u32

    def need(self, n: int) -> int:
        if n < 0 or self.pos + n > len(self.view):
            raise EOFError
        at = self.pos
        self.pos += n
        return at

    def unpack(self, fmt: str, size: int) -> Any:
        return struct.unpack_from(fmt, self.view, self.need(size))[0]

    def count(self, cap: int) -> int:
        n: int = self.unpack("<Q", 8) if self.wide else self.unpack("<I", 4)
        if n > cap:
            raise ValueError(f"a length of {n} is past the cap {cap}")
        return n

    def string(self) -> str:
        n = self.count(MAX_STRING)
        at = self.need(n)
        return bytes(self.view[at:at + n]).decode("utf-8", "replace")

    def skip_string(self) -> None:
        self.need(self.count(MAX_STRING))

    def value(self, vtype: int, keep: bool, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            fmt = _SCALARS[vtype]
            return self.unpack(fmt, struct.calcsize(fmt))
        if vtype == 8:
            if keep:
                return self.string()
            self.skip_string()
            return None
        if vtype == 9:
            etype: int = self.unpack("<I", 4)
            n = self.count(MAX_COUNT)
            if etype in _SCALARS:  # fixed size: skip in one step
                self.need(n * struct.calcsize(_SCALARS[etype]))
            elif etype == 8 or (etype == 9 and depth < MAX_NESTING):
                for _ in range(n):
                    self.value(etype, False, depth + 1)
            else:
                raise ValueError(f"array element type {etype} (or arrays nested past {MAX_NESTING})")
            return None
        raise ValueError(f"unknown value type {vtype}")


def looks_like_gguf(head: bytes) -> bool:
    return head[:4] == MAGIC


def parse(data: bytes, whole: bool) -> GgufHeader:
    """The header in `data` (a member's first piece). ValueError when it is not a sane GGUF header."""
    if data[:4] != MAGIC or len(data) < 16:
        raise ValueError("no GGUF magic")
    version = struct.unpack_from("<I", data, 4)[0]
    if version not in (1, 2, 3):
        raise ValueError(f"GGUF version {version}")
    cur = _Cursor(data, 8, wide=version >= 2)
    try:
        header = GgufHeader(version, cur.count(MAX_COUNT), cur.count(MAX_COUNT))
    except EOFError:
        raise ValueError("GGUF header shorter than its counts") from None
    try:
        for _ in range(header.kv_count):
            key = cur.string()
            vtype: int = cur.unpack("<I", 4)
            keep = key in _WANTED
            value = cur.value(vtype, keep)
            if keep:
                header.metadata[key] = value
        header.parameters = _tensor_infos(cur, header)
    except EOFError:
        if whole:
            raise ValueError("GGUF header runs past the end of the file") from None
        header.truncated = True
    return header


def _tensor_infos(cur: _Cursor, header: GgufHeader) -> int:
    total = 0
    for _ in range(header.tensor_count):
        cur.skip_string()
        ndims: int = cur.unpack("<I", 4)
        if ndims > MAX_DIMS:
            raise ValueError(f"a tensor with {ndims} dimensions")
        elements = 1
        for _ in range(ndims):
            elements *= cur.count(1 << 40) if cur.wide else cur.unpack("<I", 4)
        ttype: int = cur.unpack("<I", 4)
        cur.need(8)  # the tensor's data offset
        name = TENSOR_TYPES.get(ttype, f"type {ttype}")
        header.tensor_types[name] = header.tensor_types.get(name, 0) + 1
        total += elements
    return total

"""Model weights and large opaque binaries: the most costly thing an artifact can disclose, said exactly.

Only a member's first piece is read (the reader guarantees it holds at least the first 16 MB,
or the whole member), so memory stays bounded whatever the artifact. A container's weights are
one finding for the container: a torch.save zip arrives both as its own raw head and as its
members (`model.pt!/archive/data.pkl`), an .npz as its .npy members, a TensorFlow checkpoint as
`.index` plus `.data-NNNNN-of-NNNNN` shards. Their tensor storage is never a "large binary".

`summary()` gives the report its plain statement ("No model weights.") and counts: a finding
cannot say that nothing was found, so the lead's report asks the check after `finish`.
"""

from __future__ import annotations

import re
from typing import Any

from ketch.audit.checks import sniff, weightformats
from ketch.audit.checks.weightformats import Model
from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

LARGE_BINARY_BYTES = 10 * 1024 * 1024
GENERIC_BIG_ELEMENTS = 1_000_000   # an array this big may well be a layer's weights
ENABLES = "anyone can run or fine-tune the model"
FIX = ("Exclude the file from the artifact and publish weights only where their licence and access are "
       "meant to be; if this version is already public, unpublish or yank it.")
_TF_SHARD = re.compile(r"^(.+)\.data-(\d{5})-of-(\d{5})$")
_SUMMARY_FACTS = ("format", "parameters", "architecture", "dtype", "bytes")


class WeightsCheck:
    """Kind.WEIGHTS (one finding per weights file) and Kind.LARGE_BINARY (≥ `large_bytes`, not weights,
    not an archive, not text)."""

    def __init__(self, large_bytes: int = LARGE_BINARY_BYTES) -> None:
        self.large_bytes = large_bytes
        self._entry: Entry | None = None
        self._models: dict[str, Model] = {}
        self._sizes: dict[str, int] = {}           # weights files and zips whose heads we saw
        self._member_bytes: dict[str, int] = {}    # container path → bytes of its members
        self._zip_first: dict[str, str] = {}       # zip path → its first member's name
        self._npz: dict[str, list[Any]] = {}       # npz path → [arrays, elements, dtypes]
        self._tf: dict[str, list[int]] = {}        # checkpoint prefix → [shards, bytes]
        self._tf_index: set[str] = set()           # prefixes with a .index member
        self._saved_models: set[str] = set()       # folders holding saved_model.pb
        self._large: dict[str, tuple[int, str]] = {}
        self._findings: list[Finding] | None = None

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        self._entry = entry
        if entry.link is not None:
            return
        if "!/" in entry.path:
            container = entry.path.rsplit("!/", 1)[0]
            self._member_bytes[container] = self._member_bytes.get(container, 0) + entry.size
        folder, _, name = entry.path.rpartition("/")
        shard = _TF_SHARD.match(entry.path) if ".data-" in name else None
        if shard and int(shard[2]) < int(shard[3]):
            tally = self._tf.setdefault(shard[1], [0, 0])
            tally[0] += 1
            tally[1] += entry.size
        elif name.endswith(".index"):
            self._tf_index.add(entry.path[:-len(".index")])
        elif name in ("saved_model.pb", "saved_model.pbtxt"):
            self._saved_models.add(folder)

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None:
        if piece.origin or not piece.first:
            return None
        path, data = piece.path, piece.data
        size = self._size_of(piece)
        if "!/" in path and self._member_of_container(path, data, size):
            return None
        first = weightformats.zip_first_name(data)
        if first is not None:
            self._zip_first[path] = first
            self._sizes[path] = size
            if weightformats.is_torch_pickle_path(first):
                self._models.setdefault(path, Model("PyTorch", note="torch.save zip"))
            elif path.lower().endswith(".npz") or first.endswith(".npy"):
                self._npz.setdefault(path, [0, 0, {}])
            return None
        model = weightformats.read(piece.name, data, piece.whole)
        if model is not None:
            self._models[path] = model
            self._sizes[path] = size
            return None
        if size >= self.large_bytes and not sniff.is_archive(data) and not sniff.is_text(data):
            self._large[path] = (size, sniff.guess(data))
        return None

    def _size_of(self, piece: Piece) -> int:
        size = max(piece.size, len(piece.data))
        if self._entry is not None and self._entry.path == piece.path:
            size = max(size, self._entry.size)
        return size

    def _member_of_container(self, path: str, data: bytes, size: int) -> bool:
        """A torch zip's data.pkl or an npz's array: credit the container, not the member."""
        container, inner = path.rsplit("!/", 1)
        if weightformats.is_torch_pickle_path(inner):
            self._models.setdefault(container, Model("PyTorch", note="torch.save zip"))
            return True
        if inner.endswith(".npy") and (container.lower().endswith(".npz")
                                       or self._zip_first.get(container, "").endswith(".npy")):
            tally = self._npz.setdefault(container, [0, 0, {}])
            head = weightformats.npy_header(data)
            tally[0] += 1
            if head is not None:
                tally[1] += _product(head[1])
                tally[2][head[0]] = tally[2].get(head[0], 0) + 1
            return True
        return False

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        if self._findings is None:
            self._findings = self._build()
        return list(self._findings)

    def _build(self) -> list[Finding]:
        models = dict(self._models)
        for path, (arrays, elements, dtypes) in self._npz.items():
            models[path] = Model("NumPy (npz)", parameters=elements, tensors=arrays, generic=True,
                                 dtype=", ".join(sorted(dtypes, key=lambda d: -dtypes[d])))
        for prefix, (shards, nbytes) in self._tf.items():
            folder = prefix.rpartition("/")[0]
            saved = prefix.endswith("variables/variables") and folder.rpartition("/")[0] in self._saved_models
            fmt = "TensorFlow SavedModel" if saved else "TensorFlow checkpoint"
            if prefix in self._tf_index or saved:
                models[prefix] = Model(fmt, tensors=None, note=f"{shards} data shard(s)")
                self._sizes[prefix] = nbytes
        out = [self._weights_finding(path, m) for path, m in sorted(models.items())
               if not _inside(path, models)]
        for path, (size, what) in sorted(self._large.items()):
            if path in models or _inside(path, models) or path in self._member_bytes or self._tf_shard(path):
                continue
            out.append(Finding(
                Kind.LARGE_BINARY, Severity.LOW, f"large binary: {what}, {human_bytes(size)}", path=path,
                enables="an opaque file nobody reviewing the package can read, shipped to every install",
                fix="Exclude it unless the package needs it at run time; if it does, say where it comes from.",
                rule="large-binary/opaque", facts={"bytes": size, "guess": what}))
        return out

    def _tf_shard(self, path: str) -> bool:
        shard = _TF_SHARD.match(path)
        return shard is not None and shard[1] in self._tf

    def _weights_finding(self, path: str, m: Model) -> Finding:
        size = self._sizes.get(path) or self._member_bytes.get(path, 0)
        facts: dict[str, Any] = {"format": m.format, "bytes": size, "parameters": m.parameters,
                                 "architecture": m.architecture, "dtype": m.dtype, "name": m.name,
                                 "size_label": m.size_label, "tensors": m.tensors, **m.extra}
        rule = "weights/" + re.sub(r"[^a-z0-9]+", "-", m.format.lower()).strip("-")
        if not m.confirmed:
            facts["unreadable"] = True
            return Finding(Kind.WEIGHTS, Severity.LOW, f"unreadable {m.format} weights header", path=path,
                           evidence=m.note, enables="perhaps nothing: the header would not read; check the file",
                           fix=FIX, rule="weights/unreadable-header", facts=facts)
        described = ", ".join(p for p in (_model_words(m), m.dtype, human_bytes(size) if size else "") if p)
        if m.generic:
            big = (m.parameters or 0) >= GENERIC_BIG_ELEMENTS or size >= 4 * GENERIC_BIG_ELEMENTS
            facts["confidence"] = "possible"
            return Finding(Kind.WEIGHTS, Severity.HIGH if big else Severity.LOW,
                           f"{m.format} arrays (possibly model weights): {described}".rstrip(": "), path=path,
                           evidence=m.note, enables=ENABLES + " (if these arrays are its weights)",
                           fix=FIX, rule=rule, facts=facts)
        facts["confidence"] = "certain"
        return Finding(Kind.WEIGHTS, Severity.CRITICAL, f"{m.format} model weights: {described}".rstrip(": "),
                       path=path, evidence=m.note, enables=ENABLES, fix=FIX, rule=rule, facts=facts)

    def summary(self) -> dict[str, Any]:
        """Counts for the report's opening lines, valid after `finish`.

        `weights`: one dict per certain weights file (path, format, parameters, architecture,
        dtype, bytes); `possible_weights`: array containers (NumPy, plain HDF5) the same way;
        `unreadable_weights`: files whose weights magic matched but header did not read;
        `large_binaries` and `large_binary_bytes`; `statement`: one plain sentence.
        """
        findings = self._findings if self._findings is not None else self._build()
        certain: list[dict[str, Any]] = []
        possible: list[dict[str, Any]] = []
        for f in findings:
            if f.kind is Kind.WEIGHTS and not f.facts.get("unreadable"):
                row = {"path": f.path, **{k: f.facts.get(k) for k in _SUMMARY_FACTS}}
                (certain if f.facts.get("confidence") == "certain" else possible).append(row)
        large = [f for f in findings if f.kind is Kind.LARGE_BINARY]
        return {
            "weights": certain, "possible_weights": possible,
            "unreadable_weights": sum(1 for f in findings if f.facts.get("unreadable")),
            "large_binaries": len(large), "large_binary_bytes": sum(f.facts["bytes"] for f in large),
            "statement": _statement(certain, possible),
        }


def _statement(certain: list[dict[str, Any]], possible: list[dict[str, Any]]) -> str:
    if not certain:
        tail = f" ({len(possible)} array file(s) that may hold weights.)" if possible else ""
        return "No model weights." + tail
    formats = sorted({str(r["format"]) for r in certain})
    return f"Model weights: {len(certain)} file(s) ({', '.join(formats)})."


def _inside(path: str, models: dict[str, Model]) -> bool:
    """Whether `path` is a member of a container already reported as weights."""
    parts = path.split("!/")
    return any("!/".join(parts[:i]) in models for i in range(1, len(parts)))


def _product(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _model_words(m: Model) -> str:
    size = m.size_label or (human_count(m.parameters) if m.parameters else "")
    return " ".join(p for p in (m.architecture, size) if p)


def human_count(n: int) -> str:
    """1.5B, 494M, 12K: the way model cards say parameter counts."""
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(n)


def human_bytes(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"

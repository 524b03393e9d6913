"""WeightsCheck on real bytes: files written per their specs by this test, never fetched."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import pytest

from ketch.audit.checks.weights import WeightsCheck, human_bytes, human_count
from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

INFO = ArtifactInfo(name="pkg", ecosystem="python-wheel")
MB = 1024 * 1024


def gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_file(kvs: list[tuple[str, int, bytes]], tensors: list[tuple[str, list[int], int]]) -> bytes:
    """GGUF v3: magic, version, tensor_count, kv_count, the KVs, the tensor infos, then zeroed data."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + value
    for name, dims, ggml_type in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, 0)
    return out + b"\0" * 64


def qwen_like() -> bytes:
    tokens = struct.pack("<IQ", 8, 3) + b"".join(gguf_string(t) for t in ("<s>", "a", "b"))
    kvs = [
        ("general.architecture", 8, gguf_string("qwen2")),
        ("general.name", 8, gguf_string("Qwen2 Tiny")),
        ("general.size_label", 8, gguf_string("1.5B")),
        ("general.file_type", 4, struct.pack("<I", 15)),
        ("qwen2.context_length", 4, struct.pack("<I", 32768)),
        ("qwen2.rope.freq_base", 6, struct.pack("<f", 1e6)),
        ("tokenizer.ggml.tokens", 9, tokens),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0, 1, 2)),
        ("tokenizer.ggml.add_bos_token", 7, b"\x01"),
        ("general.quantization_version", 10, struct.pack("<Q", 2)),
    ]
    tensors = [("token_embd.weight", [896, 151936], 12), ("blk.0.attn_q.weight", [896, 896], 12),
               ("output_norm.weight", [896], 0)]
    return gguf_file(kvs, tensors)


def run(*members: tuple[str, bytes], size: int | None = None, check: WeightsCheck | None = None,
        whole: bool = True) -> tuple[WeightsCheck, list[Finding]]:
    check = check or WeightsCheck()
    for path, data in members:
        n = size if size is not None else len(data)
        check.entry(Entry(path, n), INFO)
        assert check.visit(Piece(path, data, 0, n, whole), INFO) is None
    return check, check.finish(INFO)


def only(findings: list[Finding], kind: Kind = Kind.WEIGHTS) -> Finding:
    hits = [f for f in findings if f.kind is kind]
    assert len(hits) == 1, findings
    return hits[0]


def test_gguf_header_gives_architecture_quantization_and_exact_parameter_count():
    check, findings = run(("pkg.whl!/models/tiny.gguf", qwen_like()), size=1_100_000_000)
    f = only(findings)
    assert f.severity is Severity.CRITICAL and f.path == "pkg.whl!/models/tiny.gguf"
    assert f.title == "GGUF model weights: qwen2 1.5B, Q4_K_M, 1.1 GB"
    assert f.facts["parameters"] == 896 * 151936 + 896 * 896 + 896
    assert f.facts["architecture"] == "qwen2" and f.facts["name"] == "Qwen2 Tiny" and f.facts["tensors"] == 3
    assert f.enables == "anyone can run or fine-tune the model" and f.rule == "weights/gguf"
    summary = check.summary()
    assert [w["format"] for w in summary["weights"]] == ["GGUF"]
    assert summary["statement"] == "Model weights: 1 file(s) (GGUF)."


def test_gguf_without_size_label_says_the_counted_parameters_and_a_truncated_head_is_still_weights():
    data = qwen_like().replace(b"general.size_label", b"general.size_labeX")
    f = only(run(("m.gguf", data))[1])
    assert "qwen2 137M, Q4_K_M" in f.title
    # the piece ends inside the tokenizer array of a member far bigger than the piece
    f = only(run(("m.gguf", qwen_like()[:150]), size=5 * 10**9, whole=False)[1])
    assert f.severity is Severity.CRITICAL and f.facts["parameters"] is None and f.facts["architecture"] == "qwen2"


def test_corrupt_gguf_lengths_never_crash_and_give_at_most_a_low_unreadable_finding():
    huge_string = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + struct.pack("<Q", 2**60) + b"general.name"
    huge_dim = gguf_file([], [("t", [2**60, 2], 0)])
    for data in (huge_string, huge_dim, b"GGUF" + struct.pack("<IQQ", 3, 2**62, 0), qwen_like()[:150]):
        findings = run(("bad.gguf", data))[1]  # whole: running off the end is corruption
        assert [(f.severity, f.rule) for f in findings] == [(Severity.LOW, "weights/unreadable-header")]
    assert run(("notes.txt", b"GGUF is a file format for models." * 10))[1] == []


def safetensors_file(header: dict[str, object], pad: int = 0) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * pad


def test_safetensors_counts_parameters_from_two_tensors_and_ignores_metadata():
    header = {"__metadata__": {"format": "pt"},
              "embed.weight": {"dtype": "BF16", "shape": [32000, 4096], "data_offsets": [0, 262144000]},
              "norm.weight": {"dtype": "F32", "shape": [4096], "data_offsets": [262144000, 262160384]}}
    findings = run(("model.bin", safetensors_file(header, 32)))[1]  # no extension needed
    f = only(findings)
    assert f.facts["parameters"] == 32000 * 4096 + 4096 and f.facts["tensors"] == 2
    assert f.severity is Severity.CRITICAL and f.title.startswith("safetensors model weights: 131M, BF16, F32")


def test_absurd_safetensors_header_length_is_not_weights_or_low_when_named():
    data = struct.pack("<Q", 2**63) + b"{}" + b"\0" * 100
    assert run(("blob.bin", data))[1] == []
    assert only(run(("model.safetensors", data))[1]).severity is Severity.LOW
    not_json = struct.pack("<Q", 20) + b"{not json at all...." + b"\0" * 10
    assert only(run(("model.safetensors", not_json))[1]).rule == "weights/unreadable-header"


def torch_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": "persistent-id-stand-in"}, protocol=2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", b"\x01" * (11 * MB))
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_torch_zip_is_one_finding_whether_seen_by_its_head_or_its_members():
    raw = torch_zip()
    members = [("model.pt", raw)]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        members += [(f"model.pt!/{n}", z.read(n)) for n in z.namelist()]
    findings = run(*members)[1]
    f = only(findings)
    assert (f.path, f.facts["format"], f.facts["bytes"]) == ("model.pt", "PyTorch", len(raw))
    assert [x for x in findings if x.kind is Kind.LARGE_BINARY] == []  # its 11 MB storage is the weights
    # members only (a reader that does not hand the zip's own head)
    f = only(run(*members[1:])[1])
    assert f.path == "model.pt" and f.facts["bytes"] > 11 * MB


def test_legacy_torch_pickle_is_recognised_without_unpickling():
    head = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)[:-1] + b"\x8a\x0a" + b"\0" * 64
    assert only(run(("old.pth", head))[1]).facts["format"] == "PyTorch"
    plain_pickle = pickle.dumps({"a": 1}, protocol=2)
    assert run(("cache.pkl", plain_pickle))[1] == []


def npy_bytes(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    np = pytest.importorskip("numpy")
    buf = io.BytesIO()
    np.save(buf, np.zeros(shape, dtype=np.dtype(descr)))
    return buf.getvalue()


def hand_npy(shape: tuple[int, ...]) -> bytes:
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def test_npy_and_npz_count_elements_and_small_arrays_are_low():
    f = only(run(("w.npy", hand_npy((1024, 1024))))[1])
    assert f.facts["parameters"] == 1024 * 1024 and f.severity is Severity.HIGH
    assert f.facts["confidence"] == "possible"
    assert only(run(("tiny.npy", npy_bytes((3, 4))))[1]).severity is Severity.LOW
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.npy", hand_npy((2000, 600)))
        z.writestr("b.npy", hand_npy((10,)))
    raw = buf.getvalue()
    check, findings = run(("emb.npz", raw), ("emb.npz!/a.npy", hand_npy((2000, 600))),
                          ("emb.npz!/b.npy", hand_npy((10,))))
    f = only(findings)
    assert (f.path, f.facts["parameters"], f.facts["tensors"]) == ("emb.npz", 1_200_010, 2)
    assert check.summary()["statement"] == "No model weights. (1 array file(s) that may hold weights.)"
    corrupt = b"\x93NUMPY\x01\x00" + struct.pack("<H", 40) + b"{'shape': __import__('os')}".ljust(40)
    assert only(run(("evil.npy", corrupt))[1]).severity is Severity.LOW


def test_hdf5_keras_onnx_and_tensorflow_checkpoints():
    keras = b"\x89HDF\r\n\x1a\n" + b"\0" * 200 + b"keras_version\0model_weights" + b"\0" * 100
    assert only(run(("model.h5", keras))[1]).facts["format"] == "Keras/HDF5"
    plain = b"\x89HDF\r\n\x1a\n" + b"\0" * 300
    assert only(run(("data.h5", plain))[1]).severity is Severity.LOW
    graph = b"\x0a\x04node"  # GraphProto field 1 (a node), enough to be a field 7 payload
    onnx = b"\x08\x08\x12\x07pytorch\x1a\x052.1.0\x3a" + bytes([len(graph)]) + graph + b"\x42\x02\x10\x11"
    f = only(run(("net.onnx", onnx))[1])
    assert f.facts["format"] == "ONNX" and f.facts["ir_version"] == 8
    assert run(("net.bin", onnx))[1] == []  # producer "pytorch" and no .onnx name: not enough
    assert only(run(("x.bin", onnx.replace(b"pytorch", b"tf2onnx")))[1]).facts["format"] == "ONNX"
    check = WeightsCheck()
    for path, size in (("m.tgz!/ckpt/model.index", 900), ("m.tgz!/ckpt/model.data-00000-of-00002", 12 * MB),
                       ("m.tgz!/ckpt/model.data-00001-of-00002", 12 * MB)):
        check.entry(Entry(path, size), INFO)
        check.visit(Piece(path, b"\x00\x01\xff" * 1000, 0, size, False), INFO)
    f = only(check.finish(INFO))
    assert (f.path, f.facts["format"], f.facts["bytes"]) == ("m.tgz!/ckpt/model", "TensorFlow checkpoint", 24 * MB)


def test_large_binaries_are_named_and_text_and_archives_are_not():
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00" + bytes(range(256)) * 100
    f = only(run(("bin/tool", elf), size=12 * MB)[1], Kind.LARGE_BINARY)
    assert (f.severity, f.facts["guess"], f.facts["bytes"]) == (Severity.LOW, "ELF executable", 12 * MB)
    assert f.title == "large binary: ELF executable, 12.6 MB"
    text = (b"function f(a){return a+1}\n" * (12 * MB // 26 + 1))
    assert run(("dist/cli.js", text))[1] == []
    gz = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 100
    assert run(("inner.tgz", gz), size=12 * MB)[1] == []
    assert run(("small.so", elf))[1] == []  # under 10 MB
    check, findings = run(("db.sqlite", b"SQLite format 3\0" + b"\0\x01" * 5000), size=20 * MB)
    assert only(findings, Kind.LARGE_BINARY).facts["guess"] == "SQLite database"
    assert check.summary()["large_binaries"] == 1 and check.summary()["weights"] == []


def test_only_first_pieces_of_shipped_members_are_read():
    check = WeightsCheck()
    check.visit(Piece("m.gguf", qwen_like(), 16 * MB, 40 * MB, False), INFO)
    check.visit(Piece("src.js.map#x.gguf", qwen_like(), 0, 1000, True, origin="map"), INFO)
    assert check.finish(INFO) == [] and check.summary()["statement"] == "No model weights."


def test_human_numbers():
    assert (human_count(1_543_714_304), human_count(494_000_000), human_count(12_000), human_count(7)) == (
        "1.5B", "494M", "12K", "7")
    assert (human_bytes(1_100_000_000), human_bytes(999)) == ("1.1 GB", "999 bytes")


def test_mutated_headers_never_raise():
    """Flip, cut and splice bytes of every format's header: findings or none, never an exception."""
    import random

    rng = random.Random(14)
    header = {"t": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}
    seeds = [qwen_like(), safetensors_file(header, 64), hand_npy((3, 3)), torch_zip()[:4096],
             b"\x08\x08\x12\x07tf2onnx\x3a\x02\x0a\x00", b"\x89HDF\r\n\x1a\n" + b"\0" * 64]
    for seed in seeds:
        for _ in range(300):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(len(data))
                data[at] = rng.randrange(256)
            cut = bytes(data[:rng.randint(0, len(data))])
            for blob in (bytes(data), cut):
                check = WeightsCheck()
                for name in ("m.gguf", "m.safetensors", "m.npy", "m.onnx", "m.pt!/archive/data.pkl"):
                    check.visit(Piece(name, blob, 0, len(blob), rng.random() < 0.5), INFO)
                check.finish(INFO)
                check.summary()


def test_arrays_nested_without_end_are_refused_not_recursed():
    nested = struct.pack("<IQ", 9, 1) * 200_000 + struct.pack("<IQ", 4, 0)
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gguf_string("x") + struct.pack("<I", 9) + nested
    assert only(run(("deep.gguf", data))[1]).rule == "weights/unreadable-header"

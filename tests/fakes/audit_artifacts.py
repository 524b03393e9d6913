"""Whole artifacts for the `ketch audit` end-to-end tests, built at test time as their packers would:
the 2.1.88 shape at small scale, an inline-map bundle, a wheel with `.env` and an AWS key, an sdist
whose `.pyc` holds a token, GGUF and safetensors files, a package shipping CLAUDE.md.

Key-shaped strings are assembled from parts so the repository itself never holds one.
"""

from __future__ import annotations

import base64
import json
import py_compile
import struct
from pathlib import Path

import fake_keys
from audit_archives import tar_bytes, zip_bytes

AWS_ID = fake_keys.key("aws-access-key-id", seed=14)
AWS_SECRET = fake_keys.snippet("aws-secret-access-key", seed=14)[1]
GITHUB_TOKEN = fake_keys.key("github-token", seed=14)
FLAGS = ("KAIROS", "COORDINATOR_MODE", "VOICE_MODE")


def _package_json(name: str, version: str, license_: str = "SEE LICENSE IN README.md") -> bytes:
    return json.dumps({"name": name, "version": version, "license": license_, "bin": {"cli": "cli.js"}}).encode()


def claude_like(dest: Path) -> tuple[Path, Path]:
    """Two releases: 1.0.87 ships a bundle; 1.0.88 ships the same bundle and its map, whose
    sourcesContent still has the `feature('X')` branches the bundler eliminated."""
    bundle = b'#!/usr/bin/env node\n"use strict";var a=require("fs");function m(){return a.readFileSync(0)}m();\n'
    sources = {
        "src/main.ts": "import { feature } from 'bun:bundle'\n" + "".join(
            f"if (feature('{flag}')) {{\n  startSecret{flag.title()}()\n}}\n" for flag in FLAGS),
        "src/tools/bash.ts": "export function bash(cmd: string) {\n  return run(cmd)\n}\n" * 20,
        "src/internal.ts": "if (process.env.USER_TYPE === 'ant') {\n  enableInternalTools()\n}\n",
    }
    source_map = json.dumps({"version": 3, "file": "cli.js", "sources": list(sources),
                             "sourcesContent": list(sources.values()), "names": [], "mappings": "AAAA"}).encode()
    old = dest / "acme-cli-1.0.87.tgz"
    old.write_bytes(tar_bytes({"package/package.json": _package_json("@acme/cli", "1.0.87"), "package/cli.js": bundle}))
    new = dest / "acme-cli-1.0.88.tgz"
    new.write_bytes(tar_bytes({"package/package.json": _package_json("@acme/cli", "1.0.88"), "package/cli.js": bundle,
                               "package/cli.js.map": source_map}))
    return old, new


def inline_map_bundle(dest: Path) -> Path:
    source_map = json.dumps({"version": 3, "sources": ["src/app.ts"],
                             "sourcesContent": ["export const app = () => 'hello'\n"], "mappings": "AAAA"})
    encoded = base64.b64encode(source_map.encode()).decode()
    path = dest / "inline-1.0.0.tgz"
    path.write_bytes(tar_bytes({
        "package/package.json": _package_json("inline", "1.0.0"),
        "package/dist/app.js": f"var app=()=>'hello';\n//# sourceMappingURL=data:application/json;base64,{encoded}\n".encode(),
    }))
    return path


def wheel_with_env(dest: Path) -> Path:
    path = dest / "leaky-1.0-py3-none-any.whl"
    path.write_bytes(zip_bytes({
        "leaky/__init__.py": b"VERSION = '1.0'\n",
        "leaky/.env": f"AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n".encode(),
        "leaky-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
        "leaky-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: leaky\nVersion: 1.0\nLicense: MIT\n\n",
    }))
    return path


def sdist_with_pyc_token(dest: Path) -> Path:
    module = dest / "settings.py"
    module.write_text(f"GITHUB = {GITHUB_TOKEN!r}\n")
    pyc = dest / "settings.pyc"
    py_compile.compile(str(module), cfile=str(pyc))
    module.unlink()
    path = dest / "tokenish-2.0.tar.gz"
    path.write_bytes(tar_bytes({
        "tokenish-2.0/PKG-INFO": b"Metadata-Version: 2.1\nName: tokenish\nVersion: 2.0\n\n",
        "tokenish-2.0/tokenish/__init__.py": b"",
        "tokenish-2.0/tokenish/__pycache__/settings.cpython-311.pyc": pyc.read_bytes(),
    }))
    pyc.unlink()
    return path


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_model(dest: Path) -> Path:
    """A GGUF v3 file: two metadata values and two F32 tensors of 4x8 and 8 parameters (40 in all)."""
    kvs = [("general.architecture", 8, _gguf_string("llama")), ("general.name", 8, _gguf_string("tiny"))]
    tensors = [("tok_embd.weight", [4, 8]), ("norm.weight", [8])]
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, kind, value in kvs:
        out += _gguf_string(key) + struct.pack("<I", kind) + value
    offset = 0
    for name, dims in tensors:
        out += _gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", 0, offset)
        offset += 4 * (dims[0] * (dims[1] if len(dims) > 1 else 1))
    path = dest / "model.gguf"
    path.write_bytes(out + b"\0" * offset)
    return path


def safetensors_model(dest: Path) -> Path:
    header = json.dumps({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                         "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}}).encode()
    path = dest / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 40)
    return path


def package_with_claude_md(dest: Path) -> Path:
    instructions = ("# CLAUDE.md\n\nYou are working on the sitemap generator. Always run `npm test` before "
                    "committing. Never edit the generated files in lib/. Use the internal staging "
                    "server for integration tests.\n") * 60
    path = dest / "sitemap-8.0.0.tgz"
    path.write_bytes(tar_bytes({"package/package.json": _package_json("sitemap", "8.0.0", "MIT"),
                                "package/CLAUDE.md": instructions.encode(), "package/index.js": b"module.exports={}\n"}))
    return path


def package_with_internal_layout(dest: Path) -> Path:
    """A bundle that names an internal host and the build machine's home folder of a person."""
    bundle = (b'var API="https://billing.prod.acme.internal:8443/v2";'
              b'var SRC="/Users/jsmith/work/acme/packages/core/src/index.ts";module.exports={API,SRC};\n')
    path = dest / "acme-core-3.1.0.tgz"
    path.write_bytes(tar_bytes({"package/package.json": _package_json("acme-core", "3.1.0"),
                                "package/dist/index.js": bundle}))
    return path


def wheel_with_guessable_secret(dest: Path) -> Path:
    """A settings module that assigns a random-looking value to a secret-like name, in no known format."""
    value = fake_keys.snippet("aws-secret-access-key", seed=41)[1][:24] + "x9!Qz"
    path = dest / "conf-0.3-py3-none-any.whl"
    path.write_bytes(zip_bytes({
        "conf/settings.py": f'DEBUG = False\nSIGNING_SECRET = "{value}"\n'.encode(),
        "conf-0.3.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
        "conf-0.3.dist-info/METADATA": b"Metadata-Version: 2.1\nName: conf\nVersion: 0.3\n\n",
    }))
    return path

"""Artifacts built by the tests, at small scale, in the shapes that leaked: real JSON, real base64.

`kairos_release()` is the 2.1.88 shape: a bundle whose compile-time `feature('X')` branches the
bundler eliminated, and its external map whose `sourcesContent` still holds them. Other test
files import these helpers (`from fixtures import ...`; tests/audit/conftest.py puts this folder
on the path).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence

from ketch.audit.model import ArtifactInfo, Check, Entry, Finding, Piece

UNLICENSED = ArtifactInfo(name="@acme/cli", ecosystem="npm", license="SEE LICENSE IN README.md", version="2.1.88")
OPEN_PUBLIC = ArtifactInfo(name="mitt", ecosystem="npm", license="MIT",
                           repository="https://github.com/developit/mitt", version="3.0.1")


def source_map(sources: dict[str, str | None], *, file: str = "cli.js", root: str = "") -> bytes:
    """A version-3 map naming `sources`, with `sourcesContent` where a text is given."""
    doc: dict[str, object] = {"version": 3, "file": file, "sources": list(sources),
                              "sourcesContent": list(sources.values()), "names": [], "mappings": "AAAA;AACA"}
    if root:
        doc["sourceRoot"] = root
    return json.dumps(doc).encode()


def inline_comment(map_bytes: bytes, *, media: str = "application/json;charset=utf-8;base64") -> bytes:
    return b"//# sourceMappingURL=data:" + media.encode() + b"," + base64.b64encode(map_bytes) + b"\n"


MAIN_TS = """import { feature } from "bun:bundle";
import { checkGate } from "./gates";

export function main(argv: string[]): number {
  if (feature('KAIROS')) {
    startAssistantMode();
  }
  if (feature("PROACTIVE") && feature(`COORDINATOR_MODE`)) {
    coordinate();
  }
  if (process.env.USER_TYPE === 'ant') {
    enableDogfood();
  }
  return checkGate('tengu_public_gate') ? 0 : 1;
}
"""

TOOLS_TS = """export const tools = [
  feature('VOICE_MODE') ? voiceTool : null,
  readTool,
];
"""

LODASH_JS = "module.exports = function identity(value) { return value; };\n"

BUNDLE_JS = (b'"use strict";var a=require("./gates");function main(e){'
             b'return a.checkGate("tengu_public_gate")?0:1}\nmodule.exports={main};\n'
             b"//# sourceMappingURL=cli.js.map\n")


def kairos_release() -> list[tuple[str, bytes]]:
    """The members of a 2.1.88-shaped npm package: the flags survive only inside the map."""
    cli_map = source_map({
        "../src/main.ts": MAIN_TS,
        "../src/tools/index.ts": TOOLS_TS,
        "../node_modules/lodash/identity.js": LODASH_JS,
        "webpack/bootstrap": None,
    })
    return [("package/package.json", b'{"name":"@acme/cli","version":"2.1.88"}'),
            ("package/cli.js", BUNDLE_JS),
            ("package/cli.js.map", cli_map)]


def inline_bundle() -> tuple[str, bytes]:
    """An earlier release's shape: the map, with content, base64 in the bundle's last line."""
    map_bytes = source_map({"src/index.ts": "export const answer: number = 42;\n"}, file="index.js")
    return "package/dist/index.js", b"export const answer=42;\n" + inline_comment(map_bytes)


def third_party_map() -> tuple[str, bytes]:
    return "package/dist/vendor.js.map", source_map({
        "webpack://app/./node_modules/react/index.js": "module.exports = require('./cjs/react.js');\n",
        "webpack://app/./node_modules/scheduler/index.js": "'use strict';\nmodule.exports = {};\n",
    })


def piece(path: str, data: bytes, *, origin: str = "") -> Piece:
    return Piece(path, data, 0, len(data), True, origin=origin)


def windows(path: str, data: bytes, size: int, overlap: int = 4096) -> list[Piece]:
    """A large member as the reader hands it over: overlapping windows, none of them whole."""
    out, offset = [], 0
    while True:
        out.append(Piece(path, data[offset:offset + size], offset, len(data), False))
        if offset + size >= len(data):
            return out
        offset += size - overlap


def scan(checks: Sequence[Check], members: Iterable[tuple[str, bytes]], info: ArtifactInfo) -> list[Finding]:
    """The real scanner's rules (audit/scan.py) over members given whole, without a reader."""
    from ketch.audit.scan import Scanner

    scanner = Scanner(info, list(checks))
    pieces = [piece(path, data) for path, data in members]
    for p in pieces:
        scanner.entry(Entry(p.path, p.size))
    for p in pieces:
        scanner.piece(p)
    return [f for check in checks for f in check.finish(info)]


def pieces_through(checks: Sequence[Check], members: Iterable[Piece], info: ArtifactInfo) -> list[Piece]:
    """Every derived piece the checks hand back for `members`."""
    return [d for p in members for c in checks for d in (c.visit(p, info) or [])]

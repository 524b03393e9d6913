"""Helpers for the audit tests: a check that records what it is shown, small limits, archive builders."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from ketch.audit.archives import Limits
from ketch.audit.model import ArtifactInfo, Entry, Finding, Piece
from ketch.audit.scan import AuditOptions, audit_path


class Recorder:
    """A check that remembers everything it is shown."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.pieces: list[Piece] = []

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        self.entries.append(entry)

    def visit(self, piece: Piece, info: ArtifactInfo) -> None:
        self.pieces.append(piece)

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        return []

    def content(self, path: str) -> bytes:
        """A member's bytes put back together from its pieces (windows overlap)."""
        out = bytearray()
        for piece in (p for p in self.pieces if p.path == path):
            out[piece.offset:] = piece.data
        return bytes(out)


SMALL = Limits(whole=64 << 10, whole_map=128 << 10, window=16 << 10, in_memory=64 << 10, depth=3, ratio=50,
               slack=1 << 20, members=500)


def run(path: Path, limits: Limits = SMALL) -> tuple[Recorder, list[Finding]]:
    rec = Recorder()
    report = audit_path(path, AuditOptions(limits=limits), checks=[rec])
    return rec, report.findings


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()

"""`--extract`: write what an outsider can rebuild from the maps, and nothing anywhere else.

The source paths come from the artifact, so they are hostile: `../../etc/x`, `/abs/path`,
`C:\\x`, NUL bytes. Each is reduced to a plain relative path, and every folder and file is made
through a descriptor of its parent (mkdir/open with `dir_fd`, `O_NOFOLLOW`, files `O_EXCL`), so
no symlink, planted before or during the run, can lead a write outside the destination.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ketch.errors import AuditError

MAX_FILES = 100_000
MAX_BYTES = 2 * 1024**3
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_SEGMENT = 200
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@dataclass(frozen=True)
class ExtractSummary:
    files: int
    bytes: int
    renamed: int    # paths that collided after sanitizing and took a `~N` suffix
    sanitized: int  # paths that had to change to stay inside the destination


def safe_relative(source: str) -> str:
    """A source path as a relative path that cannot leave its folder: no scheme, root, drive, `..`.

    Lone surrogates (valid JSON: `\\ud800`) cannot name a file and become `?`; a segment is cut
    at _MAX_SEGMENT bytes of UTF-8, not characters (200 `é` are 400 bytes, past NAME_MAX).
    """
    path = _CONTROL.sub("", _SCHEME.sub("", source)).replace("\\", "/")
    path = path.encode("utf-8", "replace").decode("utf-8")
    parts = []
    for segment in path.split("/"):
        segment = _DRIVE.sub("", segment).strip()
        segment = segment.encode("utf-8")[:_MAX_SEGMENT].decode("utf-8", "ignore")
        if segment in ("", ".", ".."):
            continue
        parts.append(segment)
    return "/".join(parts) or "unnamed"


def extract_sources(files: Iterable[tuple[str, str | bytes]], dest: Path, *,
                    max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> ExtractSummary:
    """Write each (source path, content) under `dest`, which must be new or an empty folder."""
    extractor = Extractor(dest, max_files=max_files, max_bytes=max_bytes)
    try:
        for source, content in files:
            extractor.add(source, content)
    finally:
        extractor.close()
    return extractor.summary()


class Extractor:
    """Writes sources one at a time, as the audit decodes them: collected first, every map's content
    was held until the end (6 maps of 25 MB peaked at 243 MB, and it grew with each map)."""

    def __init__(self, dest: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> None:
        self.dest = dest
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.root = _open_destination(dest)
        self.written = self.total = self.renamed = self.sanitized = 0

    def add(self, source: str, content: str | bytes) -> None:
        data = content.encode("utf-8", "replace") if isinstance(content, str) else content
        if self.written + 1 > self.max_files:
            raise AuditError(f"--extract stopped at {self.max_files:,} files in {self.dest}: raise the limit or "
                             "choose fewer maps")
        if self.total + len(data) > self.max_bytes:
            raise AuditError(f"--extract stopped at {self.max_bytes:,} bytes in {self.dest}: raise the limit or "
                             "choose fewer maps")
        relative = safe_relative(source)
        self.sanitized += relative != source
        self.renamed += _write(self.root, relative.split("/"), data)
        self.written += 1
        self.total += len(data)

    def close(self) -> None:
        if self.root >= 0:
            os.close(self.root)
            self.root = -1

    def summary(self) -> ExtractSummary:
        return ExtractSummary(self.written, self.total, self.renamed, self.sanitized)


def _open_destination(dest: Path) -> int:
    try:
        dest.mkdir(parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise AuditError(f"cannot create {dest}: {exc.strerror}") from None
    try:
        fd = os.open(dest, _O_DIR)
    except OSError:
        raise AuditError(f"{dest} is not a folder (or is a symlink): give a new or empty folder") from None
    if os.listdir(fd):
        os.close(fd)
        raise AuditError(f"{dest} is not empty: give a new or empty folder for --extract")
    return fd


def _write(root: int, parts: list[str], data: bytes) -> int:
    """Write one file below `root`; returns 1 if a name collided and took a suffix."""
    collided = 0
    fd = root
    try:
        for segment in parts[:-1]:
            child, bumped = _variant(fd, segment, _enter)
            collided |= bumped
            if fd != root:
                os.close(fd)
            fd = child
        out, bumped = _variant(fd, parts[-1], _create)
        collided |= bumped
        with os.fdopen(out, "wb") as handle:
            handle.write(data)
    finally:
        if fd != root:
            os.close(fd)
    return collided


def _enter(parent: int, name: str) -> int:
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
    except FileExistsError:
        pass
    return os.open(name, _O_DIR, dir_fd=parent)


def _create(parent: int, name: str) -> int:
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=parent)


def _variant(parent: int, name: str, make: Callable[[int, str], int]) -> tuple[int, bool]:
    """`make(parent, name)`, or with `~2`, `~3`… before the extension when the name is taken."""
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    for n in range(1, 10_000):
        candidate = name if n == 1 else f"{stem}~{n}{dot}{ext}"
        try:
            return make(parent, candidate), n > 1
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue
        except OSError as exc:  # ELOOP: a symlink sits at this name; never followed, step around it
            if exc.errno == errno.ELOOP:
                continue
            raise AuditError(f"--extract cannot write {candidate}: {exc.strerror}") from None
    raise AuditError(f"--extract: too many files named {name}")

"""The gitlinks (nested repositories) a git index records, read from the index file itself."""

from __future__ import annotations

import os
from pathlib import Path


def gitlinks(index: Path) -> list[str]:
    """Paths the index records as gitlinks (submodules): git status recurses into each.

    Reads index versions 2 to 4 with SHA-1 ids; anything else yields nothing. Used after a
    command changed the index, so a repository hidden in a skipped folder (node_modules/x)
    that the command registered with `git add` is still found.
    """
    try:
        data = index.read_bytes()
    except OSError:
        return []
    if len(data) < 12 or data[:4] != b"DIRC":
        return []
    version, count = int.from_bytes(data[4:8], "big"), int.from_bytes(data[8:12], "big")
    if version not in (2, 3, 4):
        return []
    out: list[str] = []
    pos, previous = 12, b""
    for _ in range(count):
        if pos + 62 > len(data):
            break
        mode = int.from_bytes(data[pos + 24:pos + 28], "big")
        flags = int.from_bytes(data[pos + 60:pos + 62], "big")
        name_at = pos + 62 + (2 if version >= 3 and flags & 0x4000 else 0)
        if version == 4:
            strip, name_at = _varint(data, name_at)
            end = data.find(b"\0", name_at)
            if end < 0:
                break
            name = previous[: len(previous) - strip] + data[name_at:end]
            pos = end + 1
        else:
            end = data.find(b"\0", name_at)
            if end < 0:
                break
            name = data[name_at:end]
            pos = pos + ((end - pos + 8) & ~7)
        previous = name
        if mode & 0o170000 == 0o160000:
            out.append(os.fsdecode(name))
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    c = data[pos]
    pos += 1
    value = c & 127
    while c & 128 and pos < len(data):
        c = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (c & 127)
    return value, pos

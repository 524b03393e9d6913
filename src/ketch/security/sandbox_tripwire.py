"""Stop a sandboxed command the moment it creates a protected path (inotify on the host side).

Checking after the command (security.sandbox_quarantine) keeps a protected file from
surviving the call; this keeps it from living *during* the call, when another terminal's
`git status` or an IDE would read a planted `.git/commondir`, hook or settings file. The
parent folder of each suspect is watched (the sandbox pins those folders, so they cannot
be renamed away), and a create or rename-into of a suspect's name kills the command
within milliseconds. inotify is inode-based, so it sees writes made through the
sandbox's bind mounts. If inotify is unavailable the check at the end still holds.
"""

from __future__ import annotations

import os
import select
import struct
import threading
from pathlib import Path
from typing import Callable

_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of NUL-padded name

_libc = None


def _lib():  # type: ignore[no-untyped-def]
    """libc through ctypes, loaded on the first call only (ctypes costs a few ms to import)."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Tripwire:
    """Watches the suspects' folders; `arm(on_trip)` starts reacting, `disarm()` stops."""

    def __init__(self, suspects: list[Path]) -> None:
        self.tripped: list[Path] = []
        self._fd = -1
        self._names: dict[int, dict[bytes, Path]] = {}
        self._thread: threading.Thread | None = None
        self._stop_r = self._stop_w = -1
        if not suspects:
            return
        try:
            lib = _lib()
            fd = lib.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd < 0:
            return
        self._fd = fd
        by_parent: dict[Path, dict[bytes, Path]] = {}
        for path in suspects:
            by_parent.setdefault(path.parent, {})[os.fsencode(path.name)] = path
        for parent, names in by_parent.items():
            wd = lib.inotify_add_watch(fd, os.fsencode(parent), _IN_CREATE | _IN_MOVED_TO | _IN_ONLYDIR | _IN_DONT_FOLLOW)
            if wd >= 0:
                self._names.setdefault(wd, {}).update(names)

    def arm(self, on_trip: Callable[[Path], None]) -> None:
        if self._fd < 0 or not self._names:
            return
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._watch, args=(on_trip,), name="ketch-tripwire", daemon=True)
        self._thread.start()

    def disarm(self) -> list[Path]:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join()
            os.close(self._stop_r)
            os.close(self._stop_w)
            self._thread = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        return self.tripped

    def _watch(self, on_trip: Callable[[Path], None]) -> None:
        while True:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            for path in self._hits(data):
                if path not in self.tripped:
                    self.tripped.append(path)
                    on_trip(path)

    def _hits(self, data: bytes) -> list[Path]:
        hits = []
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            path = self._names.get(wd, {}).get(name)
            if path is not None:
                hits.append(path)
        return hits

"""Stop a sandboxed command the moment it creates a protected path (inotify on the host side).

Checking after the command (security.sandbox.quarantine) keeps a protected file from
surviving the call; this keeps it from living *during* the call, when another terminal's
`git status` or an IDE would read a planted `.git/commondir`, hook or settings file. The
parent folder of each suspect is watched (the sandbox pins those folders, so they cannot
be renamed away), and a create or rename-into of a suspect's name kills every call in
flight that watches it, within milliseconds. inotify is inode-based, so it sees writes made through the
sandbox's bind mounts. If inotify is unavailable the check at the end still holds.
"""

from __future__ import annotations

import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of NUL-padded name

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    """libc through ctypes, loaded on the first call only (ctypes costs a few ms to import)."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Tripwire:
    """One inotify instance and thread per sandbox; each call registers its suspects with `watch`.

    Watches stay on their folders between calls (closing an inotify instance waits for an
    RCU grace period, several ms, so a per-call instance would cost more than the sandbox
    itself); `watch` re-adds each folder's watch (cheap, idempotent, and right again if
    the folder was replaced), and events are matched against the calls in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = -1
        self._unavailable = False
        self._names: dict[int, dict[bytes, Path]] = {}  # wd -> name -> suspect path
        self._calls: dict[int, tuple[frozenset[Path], Callable[[Path], object], list[Path]]] = {}
        self._next = 0
        self._stop_r = self._stop_w = -1
        self._thread: threading.Thread | None = None

    def watch(self, suspects: list[Path], on_trip: Callable[[Path], object]) -> int:
        """Start reacting to `suspects` for one call (before it starts); returns its ticket."""
        with self._lock:
            self._next += 1
            ticket = self._next
            self._calls[ticket] = (frozenset(suspects), on_trip, [])
            if suspects and self._start():
                lib = _lib()
                for path in suspects:
                    wd = lib.inotify_add_watch(self._fd, os.fsencode(path.parent),
                                               _IN_CREATE | _IN_MOVED_TO | _IN_ONLYDIR | _IN_DONT_FOLLOW)
                    if wd >= 0:
                        self._names.setdefault(wd, {})[os.fsencode(path.name)] = path
            return ticket

    def release(self, ticket: int) -> list[Path]:
        """Stop reacting for this call; the suspects that appeared while it ran."""
        with self._lock:
            _, _, tripped = self._calls.pop(ticket, (frozenset(), None, []))
            return tripped

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                os.write(self._stop_w, b"x")
        if thread is not None:
            thread.join()
            for fd in (self._stop_r, self._stop_w, self._fd):
                os.close(fd)
            self._fd = self._stop_r = self._stop_w = -1
            self._names.clear()

    def _start(self) -> bool:
        if self._fd >= 0 or self._unavailable:
            return self._fd >= 0
        try:
            fd = _lib().inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError):
            fd = -1
        if fd < 0:
            self._unavailable = True  # the check after each call still holds
            return False
        self._fd = fd
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="ketch-tripwire", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        fd, stop = self._fd, self._stop_r
        while True:
            ready, _, _ = select.select([fd, stop], [], [])
            if stop in ready:
                return
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            for trip, path in self._hits(data):
                trip(path)

    def _hits(self, data: bytes) -> list[tuple[Callable[[Path], object], Path]]:
        hits = []
        offset = 0
        with self._lock:
            while offset + _EVENT.size <= len(data):
                wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                path = self._names.get(wd, {}).get(name)
                if path is None:
                    continue
                for suspects, on_trip, tripped in self._calls.values():
                    if path in suspects and path not in tripped:
                        tripped.append(path)
                        hits.append((on_trip, path))
        return hits

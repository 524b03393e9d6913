"""One writer per session: an advisory lock on the open transcript.

Two processes appending to one transcript (say `ketch -c` in two terminals) would
interleave two conversations into one file. The writer holds `flock(LOCK_EX)` on its
descriptor for as long as the session is open; the kernel drops it when the process
exits, `kill -9` included, so a crash never leaves a stale lock behind. Where `fcntl`
does not exist (Windows), sessions are simply not locked.
"""

from __future__ import annotations

from ketch.errors import KetchError


class SessionBusy(KetchError):
    """Another live process is writing this session."""


def lock_exclusive(fd: int) -> None:
    """Take the session lock on `fd` without waiting; raise SessionBusy if it is held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SessionBusy() from None


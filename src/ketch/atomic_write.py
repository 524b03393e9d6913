"""Replace a small file so that a crash or Ctrl-C leaves the old content or the new, never half.

For ketch's own small files (settings it writes for the person, the trust store, credentials,
the checkpoint log): the bytes go to a temporary file in the same folder, created with its final
permissions by `os.open` itself (so a secret is never readable for an instant), flushed to disk,
then renamed over the target. The Write tool and undo have their own, stricter rules about
modes, owners and symlinks of the user's files, and do not use this.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically; the file has `mode` (less the umask) from its first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        os.unlink(tmp)  # a stale temp from a crashed run; O_EXCL below needs it gone
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

"""Owner-only files under $KETCH_HOME, written so they are never readable by others.

The trust store and the credential file decide what ketch will do and hold API keys, so
they must never be world-readable, not even for the instant between creating a file and
chmod-ing it: the temporary file is created 0600 by os.open itself, filled, flushed to
disk, then renamed over the old one, so a reader sees the old content or the new, never
half a file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) as 0700; tighten it if it exists and we own it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)


def write_private_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically; the file is 0600 from its first byte."""
    from ketch.atomic_write import write_atomic

    ensure_private_dir(path.parent)
    write_atomic(path, data, mode=0o600)

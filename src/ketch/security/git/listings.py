"""Folder listings remembered while the folder's ctime says nothing in it changed.

security.git_places walks every writable root before and after each sandboxed command,
and the walk after a command has no folder-count bound (a command can make as many folders
as it likes). Listing 10,000 folders costs ~60 ms; a `stat` costs a tenth of that. A
folder's ctime changes whenever an entry is added, removed or renamed in it (and whenever
its mtime or mode is set), and no process can set a ctime back (only the clock could, and
the sandbox cannot change the clock). So a listing read while the folder's (device, inode,
ctime) was K is still true while the folder shows K.

One exception, git's "racy clean" problem: the kernel stamps ctime from a coarse clock
(a few ms; whole seconds on some file systems), so a change in the same tick as the
listing can leave the ctime as it was. A listing is therefore remembered only when the
folder's ctime is older than the moment of listing by RACY_NS; younger folders are read
again at each walk.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

RACY_NS = 2_000_000_000      # FAT stamps in 2 s steps; ext4, btrfs, xfs in clock ticks
MAX_REMEMBERED = 500_000     # past this the memory is dropped and rebuilt (a command can make millions)


@dataclass(frozen=True)
class Listing:
    """What a walk for `.git` entries needs of a folder."""

    subfolders: tuple[str, ...]  # names of real folders in it (links not followed), `.git` left out
    has_dot_git: bool            # a `.git` entry of any kind (folder, file, link)


_REMEMBERED: dict[str, tuple[tuple[int, int, int], Listing]] = {}


def listing(path: str, st: os.stat_result) -> Listing | None:
    """The folder's listing (remembered or read now); None when it cannot be read.

    `st` must be taken before this call: a change after it then shows as a newer ctime.
    """
    key = (st.st_dev, st.st_ino, st.st_ctime_ns)
    hit = _REMEMBERED.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    read_at = time.time_ns()
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        _REMEMBERED.pop(path, None)
        return None
    subfolders: list[str] = []
    has_dot_git = False
    for entry in entries:
        if entry.name == ".git":
            has_dot_git = True
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.name)
        except OSError:
            continue
    result = Listing(tuple(subfolders), has_dot_git)
    if st.st_ctime_ns < read_at - RACY_NS:
        if len(_REMEMBERED) >= MAX_REMEMBERED:
            _REMEMBERED.clear()
        _REMEMBERED[path] = (key, result)
    else:
        _REMEMBERED.pop(path, None)
    return result


def forget_all() -> None:
    """Drop every remembered listing (tests; nothing in ketch needs it)."""
    _REMEMBERED.clear()

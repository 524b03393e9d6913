"""Opening exactly the file that was checked (DESIGN.md §5.3).

A path is checked (containment, protected and credential paths) on its canonical form,
symlinks resolved. Between that check and the open, an earlier tool call, a background
process or a `git checkout` can put a symlink anywhere on the way, and a plain `open()`
would follow it to `~/.ssh/id_rsa` or `.git/config`. So the open walks the canonical path
one component at a time from `/`, each step relative to the folder descriptor of the step
before and refusing symlinks (`O_NOFOLLOW`): a path that has changed fails instead of
leading elsewhere. The caller then asks the kernel where the descriptor really is
(`/proc/self/fd`), which also catches a folder renamed mid-walk, and runs its checks on
that answer.

Plain `os.open` with `dir_fd` keeps this free of ctypes (openat2 would need a raw
syscall); a walk costs one open per component, microseconds per call.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ketch.errors import KetchError

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_DIR_FLAGS = _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC


class PathChanged(OSError, KetchError):
    """A component of a checked canonical path is now a symlink, or not what it was."""


def _components(path: Path) -> tuple[str, ...]:
    if not path.is_absolute():
        raise PathChanged(errno.EINVAL, f"not an absolute path: {path}")
    parts = path.parts[1:]
    if any(part in (".", "..") for part in parts):
        raise PathChanged(errno.EINVAL, f"not a canonical path: {path}")
    return parts


def _step(fd: int, name: str, flags: int, mode: int = 0o777) -> int:
    try:
        return os.open(name, flags, mode, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        try:
            is_link = stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
        except OSError:
            is_link = True  # gone again: treat as changed
        if is_link or exc.errno == errno.ELOOP:
            raise PathChanged(exc.errno, f"{name!r} is now a symlink") from None
        raise


def open_dir(path: Path, *, create: bool = False) -> int:
    """A descriptor of the folder at canonical `path`, reached without following any symlink.

    `create`: make missing folders on the way (mode 0777 less umask), each made with mkdirat
    relative to its parent's descriptor, so no symlink can redirect the creation either.
    """
    parts = _components(path)
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in parts:
            try:
                nfd = _step(fd, part, _DIR_FLAGS)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass  # made by someone else meanwhile: the no-follow open below decides
                nfd = _step(fd, part, _DIR_FLAGS)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_file(path: Path, flags: int, mode: int = 0o666) -> int:
    """A descriptor of the file at canonical `path`, no symlink followed at any depth."""
    parent = open_dir(path.parent)
    try:
        return _step(parent, path.name, flags | os.O_NOFOLLOW | _O_CLOEXEC, mode)
    finally:
        os.close(parent)


def fd_path(fd: int) -> Path:
    """Where the kernel says an open descriptor is, now (not where it was asked for)."""
    target = os.readlink(f"/proc/self/fd/{fd}")
    if target.endswith(" (deleted)") or not target.startswith("/"):
        raise PathChanged(errno.ENOENT, f"the opened file is gone or unnamed ({target})")
    return Path(target)


def same_place(fd: int, expected: Path) -> None:
    """Raise PathChanged unless descriptor `fd` is at `expected` (where /proc can tell)."""
    try:
        actual = fd_path(fd)
    except FileNotFoundError:
        if os.path.isdir("/proc/self/fd"):
            raise
        return  # no /proc mounted: the symlink-free walk is the whole guarantee
    if actual != expected:
        raise PathChanged(errno.EXDEV, f"opened {actual}, not {expected}")

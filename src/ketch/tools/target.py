"""The one file a tool call works on: reached race-free, checked where it really is.

The permission gate approved a canonical path. Between that decision and the tool's
open, anything could have put a symlink on the way (DESIGN.md §5.3), so a tool never
opens the path by name: `Target.open` holds a descriptor of the file's folder, reached
without following symlinks (security.safe_open), confirms with the kernel that the folder
is where the approved path says; before that, `ctx.check_opened` runs the gate's containment,
protected-path and credential checks again at execution time on the path the tool resolved. Reads, stats, the temp file and the rename of an atomic write all go through
the folder descriptor and never follow a final symlink.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ketch.security.safe_open import PathChanged, open_dir, same_place
from ketch.tools.base import ToolContext, ToolError
from ketch.tools.paths import missing

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def changed_error(path: Path, exc: OSError) -> ToolError:
    return ToolError(
        f"{path} changed between the permission check and the open ({exc.strerror or exc}): "
        "a symlink or rename now points it elsewhere. Nothing was read or written; check the path and retry."
    )


@dataclass
class Target:
    """`path` (canonical, approved) and a descriptor of its folder."""

    path: Path
    dir_fd: int

    @property
    def name(self) -> str:
        return self.path.name

    def lstat(self) -> os.stat_result | None:
        """The entry itself (a symlink is not followed); None if nothing is there."""
        try:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_read(self, *, nonblocking: bool = False) -> int:
        """A read descriptor of the regular file, never through a symlink."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | _O_CLOEXEC | (os.O_NONBLOCK if nonblocking else 0)
        try:
            return os.open(self.name, flags, dir_fd=self.dir_fd)
        except OSError as exc:
            if exc.errno == 40:  # ELOOP: the final component became a symlink
                raise changed_error(self.path, exc) from None
            raise


@contextmanager
def open_target(path: Path, ctx: ToolContext, kind: str, *, create_dirs: bool = False) -> Iterator[Target]:
    """Run the execution-time checks, then reach `path`'s folder without symlinks and confirm where
    it is. The checks come first: a folder `create_dirs` makes must be inside an approved path."""
    ctx.check_opened(kind, path)
    if kind == "edit" and ctx.state.tests_are_evidence:  # the small-model profile's rule, before anything is done
        from ketch.tools.tests_rule import check_test_edit

        check_test_edit(ctx, path)
    try:
        fd = open_dir(path.parent, create=create_dirs)
    except PathChanged as exc:
        raise changed_error(path, exc) from None
    except FileNotFoundError:
        shown = missing(path, ctx.workspace)
        where = f" (its folder {path.parent} does not exist)" if shown == str(path) else ""
        raise ToolError(f"File does not exist: {shown}{where}") from None
    except NotADirectoryError:
        raise ToolError(f"Cannot use {path}: a component of the path is not a directory") from None
    except PermissionError:
        raise ToolError(f"Permission denied: {path}") from None
    try:
        try:
            same_place(fd, path.parent)
        except PathChanged as exc:
            raise changed_error(path, exc) from None
        target = Target(path, fd)
        entry = target.lstat()
        if entry is not None and stat.S_ISLNK(entry.st_mode):
            raise changed_error(path, OSError(40, "the file itself is now a symlink"))
        yield target
    finally:
        os.close(fd)

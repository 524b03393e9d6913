"""What the file tools share: the numbered-line format Read shows (Edit quotes it back), and
the two rules every file-changing tool (Write, Edit, MultiEdit) follows.

An existing file may only be changed after the model has read its current version, and a
change lands atomically with the file's mode kept, so an editor, a watcher or a crash never
sees half a file.
"""

from __future__ import annotations

import errno
import os
import stat
from functools import lru_cache
from pathlib import Path

from ketch.tools.base import ToolContext, ToolError
from ketch.tools.target import Target

MAX_LINE_CHARS = 2000  # a line of Read's output (and of Edit's snippets), cut beyond this


def format_line(number: int, text: str) -> str:
    """One `cat -n` style line, long lines cut so one minified file cannot flood the context."""
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + f"... [line truncated: {len(text)} characters]"
    return f"{number:>6}\t{text}"


def os_error(exc: OSError, path: Path | str, action: str) -> ToolError:
    """An OSError as one sentence the model can act on, instead of a traceback."""
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOENT: "no such file or directory",
        errno.ENOTDIR: "a component of the path is not a directory",
        errno.EISDIR: "it is a directory",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.ELOOP: "too many levels of symbolic links",
        errno.EEXIST: "a file is in the way",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return ToolError(f"Cannot {action} {path}: {reason}")


def stat_existing(target: Target) -> os.stat_result | None:
    """stat of the file at the target, None if nothing is there; ToolError for non-files."""
    try:
        st = target.lstat()
    except OSError as exc:
        raise os_error(exc, target.path, "access") from None
    if st is None:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise ToolError(f"{target.path} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise ToolError(f"{target.path} is not a regular file (a device, FIFO or socket)")
    return st


def check_fresh(ctx: ToolContext, path: Path, st: os.stat_result) -> None:
    """Refuse to change a file the model has not seen as it is now.

    Without this, a model that guesses at a file's content (or works from a stale read
    while the user edits in their editor) silently destroys work. Caller holds the lock.
    """
    seen = ctx.state.read_files.get(str(path))
    if seen is None:
        raise ToolError(f"{path} has not been read yet in this session. Read it first, then retry.")
    if st.st_mtime_ns != seen:
        raise ToolError(
            f"{path} has changed since it was last read (by the user, a formatter or another tool). "
            "Read it again, then retry."
        )


def check_edit_fresh(ctx: ToolContext, path: Path, st: os.stat_result) -> None:
    """Edit's version: with `edit_requires_read` off (the small-model profile), an unread file may
    be edited, because old_string must still match its current text exactly; a file the model
    did read must not have changed since. An unread file must be one the model may read: the edit
    shows it (the closest region when old_string misses, the changed lines when it hits)."""
    if ctx.state.edit_requires_read or str(path) in ctx.state.read_files:
        check_fresh(ctx, path, st)
    else:
        ctx.check_opened("read", path)


@lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask, read without os.umask(), which would briefly change it for every thread."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def encode(text: str) -> bytes:
    """UTF-8 bytes of `text` (a new file is UTF-8)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ToolError(f"the text contains an invalid character at position {exc.start} (a lone surrogate)") from None


def commit(ctx: ToolContext, tool: str, target: Target, before: str | None, after: str, data: bytes,
           existing: os.stat_result | None) -> None:
    """What every file-changing tool (Write, Edit, MultiEdit) does last: refuse a change that would
    gut the file (Write) or break its syntax, then write `data` (`after`, encoded) atomically and
    remember the new version as seen. `before` is the file's text now, None for a new file."""
    from ketch.tools.syntax_guard import check_syntax

    if before is not None and after == before:  # a model that believes it fixed something, and did not
        raise ToolError(f"{tool} refused: {target.path} already has exactly this content, so nothing would change. "
                        "Make the change the task needs (compare the failing test with the code), then retry.")
    if tool == "Write" and before is not None:
        from ketch.tools.fragment_guard import check_whole_file

        check_whole_file(target.path, before, after)
    check_syntax(tool, target.path, before, after)
    if ctx.state.tests_are_evidence:
        from ketch.tools.tests_rule import check_test_config

        check_test_config(ctx, target.path, before, after)
    ctx.state.read_files[str(target.path)] = replace_file(target, data, existing)


def replace_file(target: Target, data: bytes, existing: os.stat_result | None) -> int:
    """Write `data` to the target through a temp file and rename; return the new mtime_ns.

    The temp file is made in the target's folder (by descriptor, so the rename stays on one
    file system and no symlink can move either end). An existing file's mode (and, when
    permitted, owner) carries over; a new file gets the usual 0666 minus umask. No fsync:
    it costs milliseconds per edit, and rename already gives readers all-or-nothing.
    """
    path, dir_fd = target.path, target.dir_fd
    tmp = f".{path.name[:64]}.{os.urandom(4).hex()}.ketch-tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise os_error(exc, path, "write") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if existing is not None:
                os.fchmod(fd, stat.S_IMODE(existing.st_mode))
                if (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
                    try:
                        os.fchown(fd, existing.st_uid, existing.st_gid)
                    except OSError:
                        pass  # only root may give a file away; keeping our ownership is fine
            else:
                os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False).st_mtime_ns
    except OSError as exc:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise os_error(exc, path, "write") from None

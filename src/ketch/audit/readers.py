"""What `ketch audit` is pointed at, turned into members: an archive file, a lone file, a folder
(a git work tree: the files git would publish), and with `--git` every blob of its history.

A folder is walked without following symlinks (each is an Entry with its target), and every
file is opened component by component with O_NOFOLLOW (security/safe_open.py), so a hostile
repository cannot point the audit at `~/.ssh` and have its contents land in a report.
"""

from __future__ import annotations

import lzma
import os
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

from ketch.audit import metadata
from ketch.audit.archives import (
    ArchiveReader,
    Counted,
    Limits,
    Opener,
    Sink,
    TooBig,
    archive_problem,
    decompressed,
    kind_of,
)
from ketch.audit.model import ArtifactInfo, Entry, Severity
from ketch.errors import AuditError

_SKIP_FOLDERS = frozenset({".git"})


def read_target(target: Path, sink: Sink, info: ArtifactInfo, limits: Limits, *, history: bool = False) -> None:
    """Stream `target`'s members into `sink`; AuditError only when the target itself cannot be read."""
    try:
        st = os.stat(target)
    except OSError as exc:
        raise AuditError(f"cannot read {target}: {exc.strerror or exc}; give a package file, a folder or a spec "
                         "such as npm:NAME@VERSION") from None
    try:
        if stat.S_ISDIR(st.st_mode):
            info.ecosystem = "folder"
            reader = ArchiveReader(sink, limits, 0)
            # The folder the person named, followed once: its files are opened from a canonical path
            # with no symlink on the way, and `..` or a symlinked /tmp made every open fail quietly.
            root = Path(os.path.realpath(target))
            _read_folder(root, reader)
            if history:
                from ketch.audit.git_history import read_history

                read_history(root, reader)
        elif stat.S_ISREG(st.st_mode):
            _read_file(target, sink, info, limits, st.st_size)
        else:
            raise AuditError(f"{target} is neither a file nor a folder")
    except TooBig:
        pass  # the finding is made; what was read so far is reported


def _read_file(target: Path, sink: Sink, info: ArtifactInfo, limits: Limits, size: int) -> None:
    reader = ArchiveReader(sink, limits, size)
    reader.top_name = target.name
    with open(target, "rb") as handle:
        head = handle.read(512)
    kind = kind_of(head)

    def opener() -> IO[bytes]:
        return open(target, "rb")

    if not kind:
        with opener() as stream:
            reader.member(target.name, size, stream, 0)
        return
    info.ecosystem = _first_guess(opener, kind)
    reader.nested("", kind, opener, size, 0)


def _first_guess(open_: Opener, kind: str) -> str:
    """The ecosystem from the first member name (a stream) or every name (a zip), before reading."""
    try:
        if kind == "zip":
            with zipfile.ZipFile(open_()) as archive:
                names = archive.namelist()
            return metadata.ecosystem_from_names(names[0] if names else "", names)
        with open_() as raw, tarfile.open(fileobj=cast(IO[bytes], Counted(decompressed(raw), _guess_spend())),
                                         mode="r|") as tar:
            first = tar.next()
            return metadata.ecosystem_from_names(first.name if first else "")
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError, lzma.LZMAError):
        return "archive"


def _guess_spend() -> Callable[[int], None]:
    """A first guess reads one header: a stream that unpacks more before it (a huge pax header) is
    no guess worth its memory."""
    spent = 0

    def spend(n: int) -> None:
        nonlocal spent
        spent += n
        if spent > 16 << 20:
            raise EOFError("no first member within 16 MiB")

    return spend


def _read_folder(root: Path, reader: ArchiveReader) -> None:
    for rel in _folder_files(root):
        path = root / rel
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            reader.sink.entry(Entry(rel, 0, link=os.readlink(path)))
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        from ketch.security.safe_open import open_file

        try:
            fd = open_file(path.absolute(), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            reader.sink.problem(archive_problem(f"not read: {exc.strerror or exc}", rel, Severity.INFO,
                                                rule="archive/unreadable"))
            continue
        with os.fdopen(fd, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            reader.grow_budget(size)
            reader.member(rel, size, stream, 0)


def _folder_files(root: Path) -> Iterator[str]:
    """The files git would publish from a work tree (tracked, and untracked but not ignored), or
    every file of any other folder; `.git` itself is the repository, not its content."""
    listed = _git_files(root)
    if listed is not None:
        yield from listed
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_FOLDERS or folder != str(root))
        rel = os.path.relpath(folder, root)
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            yield name if rel == "." else f"{rel}/{name}"


def _git_files(root: Path) -> list[str] | None:
    if not (root / ".git").exists():
        return None
    out = run_git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    if out is None:
        return None
    return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})


def git_command(root: Path, *args: str) -> tuple[list[str], dict[str, str]] | None:
    """argv and environment for a read-only git command on a repository that may be hostile.

    Its fsmonitor, hooks and the person's global config are off, and git is the host's own copy,
    never one on a project PATH. No transport at all: a partial clone fetches missing objects on
    demand from a promisor remote its own config names, and `ext::sh -c ...` (allowed by the same
    config's `protocol.ext.allow`) or `core.sshCommand` would run any command. GIT_ALLOW_PROTOCOL
    overrides every `protocol.*.allow`, and GIT_NO_LAZY_FETCH (git 2.44+) stops the fetch itself.
    """
    from ketch.security.host_programs import find

    git = find("git")
    if git is None:
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
                "GIT_NO_REPLACE_OBJECTS": "1", "GIT_ALLOW_PROTOCOL": "ketch-audit-allows-none",
                "GIT_NO_LAZY_FETCH": "1", "LC_ALL": "C"})
    argv = [git, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.sshCommand=false",
            "-c", f"safe.directory={root.absolute()}", *args]
    return argv, env


def run_git(root: Path, *args: str, stdin: bytes | None = None) -> bytes | None:
    """A read-only git command (git_command); its output, or None if it failed."""
    command = git_command(root, *args)
    if command is None:
        return None
    argv, env = command
    try:
        proc = subprocess.run(argv, cwd=root, env=env, input=stdin, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None

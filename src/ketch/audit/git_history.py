"""`ketch audit . --git`: every blob the repository's history holds that its work tree does not.

A `.env` committed once and deleted later is still in every clone. Each such blob is read once
(by object id), named after the first path history gives it, as `git-history:<id>!/<path>` so
the checks match its file name as they would a member's. git runs with the repository's
fsmonitor and hooks off (readers.run_git).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO

from ketch.audit.archives import ArchiveReader, archive_problem
from ketch.audit.model import Severity


def read_history(root: Path, reader: ArchiveReader) -> None:
    from ketch.audit.readers import run_git

    listed = run_git(root, "rev-list", "--all", "--objects")
    if listed is None:
        reader.sink.problem(archive_problem("no git history read: not a repository, or git is missing", str(root),
                                            Severity.INFO, rule="archive/no-history"))
        return
    names: dict[str, str] = {}
    for line in listed.decode("utf-8", "surrogateescape").splitlines():
        oid, _, path = line.partition(" ")
        if path and oid not in names:
            names[oid] = path
    current = run_git(root, "ls-tree", "-r", "-z", "HEAD") or b""
    in_tree = {rec.split(b"\t", 1)[0].split()[2].decode() for rec in current.split(b"\0") if rec.count(b" ") >= 2}
    checked = run_git(root, "cat-file", "--batch-check", stdin="\n".join(names).encode()) or b""
    blobs = [parts[0] for parts in (ln.split() for ln in checked.decode().splitlines())
             if len(parts) == 3 and parts[1] == "blob" and parts[0] not in in_tree]
    if blobs:
        _stream(root, blobs, names, reader)


def _stream(root: Path, blobs: list[str], names: dict[str, str], reader: ArchiveReader) -> None:
    from ketch.audit.readers import git_command

    command = git_command(root, "cat-file", "--batch")  # the same guards as every other git call here
    if command is None:
        return
    argv, env = command
    proc = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    import threading

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write("".join(f"{oid}\n" for oid in blobs).encode())
            proc.stdin.close()
        except OSError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    try:
        for _ in blobs:
            header = proc.stdout.readline().split()
            if len(header) != 3:
                break
            oid, size = header[0].decode(), int(header[2])
            body = _Bounded(proc.stdout, size)
            reader.member(f"git-history:{oid[:10]}!/{names.get(oid, oid)}", size, body, 0)
            body.drain()
            proc.stdout.read(1)  # the newline after each object
    finally:
        proc.kill()
        proc.wait()


class _Bounded:
    """One object's bytes out of `git cat-file --batch`'s single stream."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream = stream
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.stream.read(n) if n else b""
        self.left -= len(data)
        return data

    def drain(self) -> None:
        while self.left:
            if not self.read(1 << 20):
                break

"""`@path` mentions: the project's files for completion, and attaching mentioned files.

The file list honours .gitignore (`git ls-files --cached --others --exclude-standard` in a
repository, a walk that skips dot and build folders elsewhere) and is cached for a few
seconds, so completing while typing does not spawn a process per key.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

MAX_FILES = 20_000
MAX_ATTACH_BYTES = 256 * 1024
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", "build", "dist", "target", ".mypy_cache"}
MENTION = re.compile(r"(?<!\S)@(\S+)")


class ProjectFiles:
    def __init__(self, workspace: Path, ttl_s: float = 5.0) -> None:
        self.workspace = workspace
        self.ttl_s = ttl_s
        self._files: list[str] = []
        self._at = -1e9

    def files(self) -> list[str]:
        if time.monotonic() - self._at > self.ttl_s:
            self._files = self._git() or self._walk()
            self._at = time.monotonic()
        return self._files

    def _git(self) -> list[str] | None:
        from ketch.security.host_programs import find

        git = find("git")  # never a copy the model planted inside the project
        if git is None:
            return None
        try:
            out = subprocess.run([git, "-c", "core.fsmonitor=false", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                                 cwd=self.workspace, capture_output=True, timeout=3, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return [p for p in out.stdout.decode("utf-8", "replace").split("\0") if p][:MAX_FILES]

    def _walk(self) -> list[str]:
        found: list[str] = []
        for root, dirs, files in os.walk(self.workspace):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            rel = os.path.relpath(root, self.workspace)
            for name in sorted(files):
                found.append(name if rel == "." else f"{rel}/{name}")
                if len(found) >= MAX_FILES:
                    return found
        return found


def fuzzy_score(query: str, path: str) -> int | None:
    """None if `query`'s characters are not in `path` in order; lower is a better match."""
    q, p = query.lower(), path.lower()
    if not q:
        return len(p)
    base = p.rsplit("/", 1)[-1]
    if base.startswith(q):
        return len(p)
    if q in p:
        return 1000 + p.index(q) + len(p)
    pos, gaps = -1, 0
    for ch in q:
        nxt = p.find(ch, pos + 1)
        if nxt < 0:
            return None
        gaps += nxt - pos - 1
        pos = nxt
    return 10_000 + gaps * 10 + len(p)


def best_matches(query: str, files: list[str], limit: int = 50) -> list[str]:
    scored = [(s, f) for f in files if (s := fuzzy_score(query, f)) is not None]
    return [f for _, f in sorted(scored)[:limit]]


def attach_mentions(text: str, workspace: Path, state: object = None) -> tuple[str, list[str]]:
    """The message with each mentioned file's content appended; and the files attached."""
    attached: list[str] = []
    blocks: list[str] = []
    for match in MENTION.finditer(text):
        rel = match.group(1).rstrip(",.;:!?)")
        path = (workspace / os.path.expanduser(rel)).resolve()
        if rel in attached or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) > MAX_ATTACH_BYTES or b"\0" in data[:8192]:
            continue  # too big or binary: the model can Read it itself
        blocks.append(f'<file path="{rel}">\n{data.decode("utf-8", "replace")}\n</file>')
        attached.append(rel)
        read_files = getattr(state, "read_files", None)
        if isinstance(read_files, dict):
            read_files[str(path)] = path.stat().st_mtime_ns  # seen in full: Edit may change it
    if not blocks:
        return text, []
    return text + "\n\n" + "\n\n".join(blocks), attached

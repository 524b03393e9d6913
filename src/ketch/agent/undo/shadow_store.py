"""A shadow git store outside the project: snapshots of the workspace that undo restores from.

Why git: it is content-addressed (an unchanged file costs one stat, a changed one is
stored once), two trees diff in one call, and it is on every developer machine.
Why a separate git directory and index under `$KETCH_HOME/shadow/`: the project may not be
a repository at all, and when it is, the user's index, HEAD, branches, stash, hooks and
config must never move because ketch took a snapshot. Every call names the shadow git
directory, the workspace as work tree and ketch's own index file explicitly, and reads
no system or global configuration, so nothing of the user's git setup takes part.

These are ketch's own harness operations, not model-initiated commands, so they run
directly (with the scrubbed child environment) rather than through the tools' sandbox.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ketch.errors import KetchError

SIZE_CAP = 5 * 1024 * 1024  # files above this are not snapshotted: a snapshot must stay fast
GIT_TIMEOUT_S = 60.0
MAX_NEW_FILES = 100_000  # hashing more would stall the turn for long; undo turns off instead
INDEX_NAME = "ketch-index"
LOCK_NAME = "ketch.lock"

# Folders that are rebuilt, not written by hand: snapshotting them would make every turn slow.
DEFAULT_EXCLUDES = (
    ".git/", "node_modules/", ".venv/", "venv/", "__pycache__/", ".mypy_cache/", ".pytest_cache/",
    ".ruff_cache/", ".tox/", ".nox/", ".gradle/", ".next/", ".turbo/", ".cache/",
)
# The shadow stores bytes exactly as they are on disk: no end-of-line conversion, filter
# (git-lfs, smudge programs), ident or encoding from the project's .gitattributes, which
# `$GIT_DIR/info/attributes` overrides. Restoring then writes back the very same bytes.
ATTRIBUTES = "* -text -eol -filter -diff -merge -ident -working-tree-encoding -export-subst\n"
CONFIG = """\
[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = true
\tautocrlf = false
\tsafecrlf = false
\tsymlinks = true
\tignorecase = false
\tuntrackedCache = true
\tfsmonitor = false
\thooksPath = /dev/null
\tlogAllRefUpdates = false
[gc]
\tauto = 0
"""
IDENTITY = {
    "GIT_AUTHOR_NAME": "ketch", "GIT_AUTHOR_EMAIL": "ketch@localhost",
    "GIT_COMMITTER_NAME": "ketch", "GIT_COMMITTER_EMAIL": "ketch@localhost",
}
GITLINK = "160000"
SYMLINK = "120000"


def _git() -> str:
    """git from a PATH folder outside every writable root (security.host_programs): this
    git runs on the host, with ketch's rights, so a `.venv/bin/git` the model planted must
    never be the one found."""
    from ketch.security.host_programs import find

    found = find("git")
    if found is None:
        raise FileNotFoundError("git")
    return found


class ShadowError(KetchError):
    """The shadow store cannot be used (no git, a timeout, a broken store): one line."""


@dataclass(frozen=True)
class Entry:
    """One file as git records it: mode (100644, 100755, 120000) and blob id."""

    mode: str
    sha: str


@dataclass(frozen=True)
class TreeChange:
    """A path that differs between two snapshots; None means absent on that side."""

    path: str
    before: Entry | None
    after: Entry | None


def _slug(workspace: Path) -> str:
    """Readable and collision-free: two folders whose names flatten alike get different stores."""
    text = str(workspace)
    readable = "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-")[:80] or "root"
    return f"{readable}-{hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}"


def shadow_dir(home: Path, workspace: Path) -> Path:
    return Path(home) / "shadow" / f"{_slug(Path(workspace))}.git"


def find_workspace(home: Path, start: Path) -> Path | None:
    """The folder (start or a parent) that has a shadow store: `ketch undo` from a subfolder."""
    current = Path(os.path.realpath(start))
    while True:
        if shadow_dir(home, current).is_dir():
            return current
        if current.parent == current:
            return None
        current = current.parent


def _nul_list(paths: Iterable[str]) -> bytes:
    return b"".join(os.fsencode(p) + b"\0" for p in paths)


def blob_sha(data: bytes) -> str:
    """Git's id for a blob with these bytes, computed here to spare a process per file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def disk_entry(path: Path) -> Entry | None:
    """The file at `path` in git's terms: None for nothing (or a folder), mode "other" for a device."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(st.st_mode):
        return Entry(SYMLINK, blob_sha(os.fsencode(os.readlink(path))))
    if stat.S_ISREG(st.st_mode):
        mode = "100755" if st.st_mode & stat.S_IXUSR else "100644"
        if st.st_size > SIZE_CAP:  # never snapshotted, so it cannot equal any stored version: skip reading it
            return Entry(mode, "over-size-cap")
        return Entry(mode, blob_sha(path.read_bytes()))
    if stat.S_ISDIR(st.st_mode):
        return None  # no file here; git records only the files inside
    return Entry("other", "")


class ShadowStore:
    """Snapshots of one workspace in `$KETCH_HOME/shadow/<slug>.git`.

    Nothing happens at construction; the store is created on the first snapshot.
    """

    def __init__(self, workspace: Path, git_dir: Path, size_cap: int = SIZE_CAP) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        self.git_dir = Path(git_dir)
        self.size_cap = size_cap
        self._env: dict[str, str] | None = None
        self._tree_cache: tuple[tuple[int, int, int], str] | None = None  # (index stat, tree)

    @classmethod
    def for_workspace(cls, workspace: Path, home: Path) -> ShadowStore:
        real = Path(os.path.realpath(workspace))
        return cls(real, shadow_dir(home, real))

    @property
    def index_path(self) -> Path:
        return self.git_dir / INDEX_NAME

    def exists(self) -> bool:
        return (self.git_dir / "HEAD").is_file()

    # -- running git ----------------------------------------------------------------------

    def _git_env(self) -> dict[str, str]:
        if self._env is None:
            from ketch.security.sandbox.env import child_env

            env = {k: v for k, v in child_env().items() if not k.startswith("GIT_")}
            env.update(IDENTITY)
            env.update({
                "GIT_DIR": str(self.git_dir), "GIT_WORK_TREE": str(self.workspace),
                "GIT_INDEX_FILE": str(self.index_path), "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0", "GIT_NO_REPLACE_OBJECTS": "1",
                "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C",
            })
            self._env = env
        return self._env

    def _config_args(self) -> list[str]:
        # The project's own .git/info/exclude is honoured like its .gitignore files; the
        # user's global excludes and attributes are not read (they are not the project's).
        user_exclude = self.workspace / ".git" / "info" / "exclude"
        return [
            "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
            "-c", f"core.excludesFile={user_exclude if user_exclude.is_file() else os.devnull}",
            "-c", f"core.attributesFile={os.devnull}",
        ]

    def git(self, *args: str, stdin: bytes | None = None) -> bytes:
        """Run one git command against the shadow store; its stdout, or ShadowError."""
        try:
            proc = subprocess.run(
                [_git(), *self._config_args(), *args], input=stdin, capture_output=True,
                env=self._git_env(), cwd=self.workspace, timeout=GIT_TIMEOUT_S, check=False,
            )
        except FileNotFoundError:
            raise ShadowError("git is not installed, so ketch cannot take snapshots for undo") from None
        except subprocess.TimeoutExpired:
            raise ShadowError(f"a snapshot took longer than {GIT_TIMEOUT_S:.0f} s (is the folder very large?)") from None
        except OSError as exc:
            raise ShadowError(f"cannot run git: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ShadowError(f"git {args[0]} failed: {message[-1] if message else proc.returncode}")
        return proc.stdout

    # -- creating ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the store on first use: a bare repository without templates or hooks."""
        if self.exists():
            return
        # Copies of the project's files live here: readable by the user only.
        self.git_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.git_dir.mkdir(mode=0o700, exist_ok=True)
        env = {k: v for k, v in self._git_env().items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
        try:
            proc = subprocess.run(
                [_git(), "init", "-q", "--bare", "--template=", "--object-format=sha1", str(self.git_dir)],
                capture_output=True, env=env, timeout=GIT_TIMEOUT_S, check=False,
            )
        except FileNotFoundError:
            raise ShadowError("git is not installed, so ketch cannot take snapshots for undo") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ShadowError(f"cannot create the undo store {self.git_dir}: {exc}") from None
        if proc.returncode != 0:
            raise ShadowError(f"cannot create the undo store {self.git_dir}: "
                              f"{proc.stderr.decode('utf-8', 'replace').strip()}")
        (self.git_dir / "config").write_text(CONFIG, encoding="utf-8")
        info = self.git_dir / "info"
        info.mkdir(exist_ok=True)
        (info / "attributes").write_text(ATTRIBUTES, encoding="utf-8")
        (info / "exclude").write_text("".join(f"{p}\n" for p in self._excludes()), encoding="utf-8")
        (self.git_dir / "ketch-workspace").write_text(str(self.workspace) + "\n", encoding="utf-8")

    def _excludes(self) -> list[str]:
        """The build folders, and ketch's own home when it lies inside the workspace (`ketch` run in ~)."""
        patterns = ["/.git/", *DEFAULT_EXCLUDES[1:]]
        home = Path(os.path.realpath(self.git_dir.parent.parent))
        if home != self.workspace and self.workspace in home.parents:
            rel = home.relative_to(self.workspace).as_posix()
            patterns.append("/" + "".join("\\" + c if c in "*?[]\\ " else c for c in rel) + "/")
        return patterns

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One snapshot or restore at a time per store, across ketch processes."""
        try:
            import fcntl
        except ImportError:  # no POSIX locks here: one process at a time is then the user's care
            yield
            return
        self.git_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.git_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- snapshots --------------------------------------------------------------------------

    def _changed_paths(self) -> list[str]:
        """Paths new, modified or deleted since the last snapshot (ignored files left out)."""
        out = self.git("ls-files", "-z", "--others", "--modified", "--exclude-standard")
        if out.count(b"\0") > MAX_NEW_FILES:
            raise ShadowError(f"more than {MAX_NEW_FILES:,} files changed or not yet snapshotted in {self.workspace}; "
                              "too many to snapshot for undo (add build folders to .gitignore)")
        # A trailing slash is a nested repository: its files are its own git's business.
        return [p for p in dict.fromkeys(os.fsdecode(x) for x in out.split(b"\0") if x) if not p.endswith("/")]

    def _stageable(self, paths: Iterable[str]) -> tuple[list[str], list[str]]:
        """(paths to add or update, paths gone): files over the size cap are left out.

        A path is gone when it is missing, is no longer a file or symlink (a folder took its
        place), or sits below something that is no longer a real folder (a file or a symlink
        took the folder's place); git must drop those explicitly.
        """
        keep: list[str] = []
        gone: list[str] = []
        folders: dict[str, bool] = {}
        for rel in paths:
            parts = rel.split("/")
            if not all(self._is_folder("/".join(parts[:i]), folders) for i in range(1, len(parts))):
                gone.append(rel)
                continue
            try:
                st = os.lstat(self.workspace / rel)
            except OSError:
                gone.append(rel)
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                gone.append(rel)  # a folder (its files are listed on their own), fifo or device
            elif stat.S_ISREG(st.st_mode) and st.st_size > self.size_cap:
                continue
            else:
                keep.append(rel)
        return keep, gone

    def _is_folder(self, rel: str, cache: dict[str, bool]) -> bool:
        if rel not in cache:
            try:
                cache[rel] = stat.S_ISDIR(os.lstat(self.workspace / rel).st_mode)
            except OSError:
                cache[rel] = False
        return cache[rel]

    def _index_stamp(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.index_path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def write_tree(self) -> str:
        """Stage what changed and return the workspace's tree id."""
        self.ensure()
        changed, gone = self._stageable(self._changed_paths())
        if gone:
            self.git("update-index", "-z", "--force-remove", "--stdin", stdin=_nul_list(gone))
        if changed:
            self.git("update-index", "-z", "--add", "--remove", "--replace", "--stdin", stdin=_nul_list(changed))
        stamp = self._index_stamp()
        if self._tree_cache is not None and self._tree_cache[0] == stamp:
            return self._tree_cache[1]
        tree = self.git("write-tree").decode().strip()
        self._tree_cache = (self._index_stamp(), tree)
        return tree

    def snapshot(self, message: str, parent: str | None = None) -> str:
        """Commit the workspace as it is now; return the commit id."""
        return self.commit(self.write_tree(), message, parent)

    def commit(self, tree: str, message: str, parent: str | None = None) -> str:
        """A commit of `tree` (from write_tree) with `message`, child of `parent`."""
        args = ["commit-tree", tree]
        if parent:
            args += ["-p", parent]
        return self.git(*args, "-F", "-", stdin=message.encode("utf-8", "replace")).decode().strip()

    def set_ref(self, name: str, commit: str) -> None:
        """Keep `commit` (and its parents) reachable under refs/ketch/<name>."""
        self.git("update-ref", f"refs/ketch/{name}", commit)

    def tree_of(self, commit: str) -> str:
        return self.git("rev-parse", f"{commit}^{{tree}}").decode().strip()

    # -- reading back -----------------------------------------------------------------------

    def changes(self, before: str, after: str) -> list[TreeChange]:
        """Files that differ between two snapshots (nested repositories left out)."""
        out = self.git("diff-tree", "-r", "-z", "--no-renames", "--no-abbrev", before, after)
        parts = out.split(b"\0")
        result: list[TreeChange] = []
        i = 0
        while i + 1 < len(parts):
            meta, path = parts[i].decode(), os.fsdecode(parts[i + 1])
            i += 2
            if not meta.startswith(":"):
                continue
            old_mode, new_mode, old_sha, new_sha, _status = meta[1:].split(" ")
            if GITLINK in (old_mode, new_mode):
                continue
            result.append(TreeChange(
                path,
                None if old_mode == "000000" else Entry(old_mode, old_sha),
                None if new_mode == "000000" else Entry(new_mode, new_sha),
            ))
        return result

    def read_blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """The bytes of each blob, read in one process."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        out = self.git("cat-file", "--batch", stdin="".join(f"{s}\n" for s in wanted).encode())
        blobs: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode().split(" ")
            if len(header) != 3 or header[1] != "blob":
                raise ShadowError(f"the undo store has lost a file's content ({sha[:12]}); it cannot be restored")
            size = int(header[2])
            blobs[sha] = out[end + 1:end + 1 + size]
            pos = end + 1 + size + 1
        return blobs

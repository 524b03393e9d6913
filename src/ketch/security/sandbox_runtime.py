"""Ketch's private folder for a sandbox, and undoing what a call leaves on disk.

The folder (0700, under $XDG_RUNTIME_DIR or the temp folder) holds the read-only
sources of placeholders, the state folder bound into the sandbox, the proxy socket,
and a journal of the placeholders bwrap was asked to create in the user's folders.
If ketch is killed in the middle of a command, the next ketch finds the folder of the
dead process, removes the placeholders it left (only if still empty), then the folder.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

# What a `.git/commondir` placeholder holds: "." (the git folder itself) keeps git working.
PLACEHOLDER_SAME_DIR = b".\n"
_PREFIX = "ketch-"


@dataclass(frozen=True)
class Runtime:
    """Ketch's private folder for one sandbox: never bound in, except `state` and `net`."""

    root: Path
    state: Path          # bound read-write: Bash's working-directory file lives here
    empty_dir: Path      # read-only source for placeholders and hidden folders
    empty_file: Path     # read-only source for placeholder files
    same_dir_file: Path  # read-only source for a `.git/commondir` placeholder
    net: Path            # bound read-only: the allow-list proxy's socket (connect needs no write)
    journal: Path        # placeholders asked for, NUL-separated, for recovery after a crash


def runtime_parent() -> Path:
    """$XDG_RUNTIME_DIR (private to the user, in memory) when usable, else the temp folder."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        return Path(xdg)
    return Path(tempfile.gettempdir())


def make_runtime(parent: Path | None) -> Runtime:
    parent = parent or runtime_parent()
    reap_stale(parent)
    root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-{_pid_namespace()}-", dir=parent))
    state = root / "state"
    state.mkdir(mode=0o700)
    empty_dir = root / "empty"
    empty_dir.mkdir(mode=0o500)
    empty_file = root / "empty.file"
    _write_read_only(empty_file, b"")
    same_dir_file = root / "same-dir.file"
    _write_read_only(same_dir_file, PLACEHOLDER_SAME_DIR)
    net = root / "net"
    net.mkdir(mode=0o700)
    return Runtime(root=root, state=state, empty_dir=empty_dir, empty_file=empty_file,
                   same_dir_file=same_dir_file, net=net, journal=root / "placeholders")


def _write_read_only(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o400)


def remove_runtime(root: Path) -> None:
    """Remove the folder; placeholders were removed call by call."""
    shutil.rmtree(root, ignore_errors=True)


def record_placeholders(runtime: Runtime, paths: list[Path]) -> None:
    """Note placeholders before bwrap creates them, so a crash cannot leave them behind for good."""
    if paths:
        with open(runtime.journal, "ab") as fh:
            fh.write(b"".join(os.fsencode(p) + b"\0" for p in paths))


def forget_placeholders(runtime: Runtime) -> None:
    """No call holds a placeholder any more: the journal can start over."""
    try:
        os.truncate(runtime.journal, 0)
    except OSError:
        pass


def reap_stale(parent: Path) -> None:
    """Clean up after ketch processes of this user that died without doing so themselves."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        pid = _pid_of(entry.name)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        root = Path(entry.path)
        try:
            recorded = (root / "placeholders").read_bytes().split(b"\0")
        except OSError:
            recorded = []
        for raw in sorted({r for r in recorded if r}, key=lambda r: -r.count(b"/")):
            remove_placeholder(Path(os.fsdecode(raw)))
        remove_runtime(root)


def _pid_namespace() -> int:
    """Which pid namespace our pids belong to: a folder from another one is not ours to judge."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _pid_of(name: str) -> int | None:
    """The pid in `ketch-<pid>-<pid namespace>-<random>` if it is one of this namespace."""
    parts = name.split("-")
    if len(parts) < 4 or parts[0] + "-" != _PREFIX or not parts[1].isdigit() or parts[2] != str(_pid_namespace()):
        return None
    return int(parts[1])


def pid_alive(pid: int) -> bool:
    """Is a process with this id still there (ours or not)? Stale runtime folders and groups
    of a killed ketch are reaped only when their owner is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_placeholder(path: Path) -> None:
    """Remove a placeholder bwrap made, unless something real has taken its place since."""
    try:
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(path)  # fails if not empty: then it is not ours to remove
        elif stat.S_ISREG(st.st_mode) and st.st_size <= len(PLACEHOLDER_SAME_DIR):
            if path.read_bytes() in (b"", PLACEHOLDER_SAME_DIR):
                os.unlink(path)
    except OSError:
        pass


def restore_link(path: Path, target: str) -> str | None:
    """Put back a symlink on the way to a protected path that the command replaced; say so.

    What replaced it is moved aside, not deleted: it may be the user's own work.
    """
    try:
        if os.readlink(path) == target:
            return None
    except OSError:
        pass
    moved = None
    if os.path.lexists(path):
        moved = path.with_name(f"{path.name}.ketch-blocked-{os.getpid()}-{os.urandom(3).hex()}")
        try:
            os.rename(path, moved)
        except OSError as exc:
            return f"[ketch sandbox: {path} should be a symlink to {target} but was replaced; not restored: {exc}]"
    try:
        os.symlink(target, path)
    except OSError as exc:
        return f"[ketch sandbox: could not restore the symlink {path} -> {target}: {exc}]"
    where = f"; what replaced it was moved to {moved}" if moved else ""
    return f"[ketch sandbox: the command replaced the protected symlink {path}; it was restored{where}]"

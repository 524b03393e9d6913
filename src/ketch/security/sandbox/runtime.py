"""Ketch's private folder for a sandbox, and the record that lets the next ketch finish a call.

The folder (0700, under $XDG_RUNTIME_DIR or the temp folder) holds the empty folder that
hides credential stores, the state folder bound into the sandbox, the private package
cache, the forwarder of the network proxy, and a journal of the calls in flight: which
protected paths were missing when each started (and so must still be missing when it
ends). If ketch is killed in the middle of a command, the next ketch finds the folder of
the dead process, moves whatever the command created at those paths into quarantine,
says so, and removes the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ketch.security.sandbox.quarantine import quarantine

_PREFIX = "ketch-"


@dataclass(frozen=True)
class Runtime:
    """Ketch's private folder for one sandbox: never bound in, except `state`, `cache` and `net`."""

    root: Path
    state: Path          # bound read-write: Bash's working-directory file lives here
    cache: Path          # bound read-write: the package managers' cache for this session
    empty_dir: Path      # read-only source for hidden credential folders
    net: Path            # bound read-only: the network proxy's forwarder script
    journal: Path        # calls in flight and the protected paths each found missing
    notes: list[str] = field(default_factory=list)  # what recovery did, for the next result


def runtime_parent() -> Path:
    """$XDG_RUNTIME_DIR (private to the user, in memory) when usable, else the temp folder."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        return Path(xdg)
    return Path(tempfile.gettempdir())


def make_runtime(parent: Path | None) -> Runtime:
    parent = parent or runtime_parent()
    notes = reap_stale(parent)
    root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-{pid_namespace()}-", dir=parent))
    state = root / "state"
    state.mkdir(mode=0o700)
    cache = root / "cache"
    cache.mkdir(mode=0o700)
    empty_dir = root / "empty"
    empty_dir.mkdir(mode=0o500)
    net = root / "net"
    net.mkdir(mode=0o700)
    return Runtime(root=root, state=state, cache=cache, empty_dir=empty_dir, net=net,
                   journal=root / "calls", notes=notes)


def remove_runtime(root: Path) -> None:
    """Remove the folder (the private cache with it)."""
    shutil.rmtree(root, ignore_errors=True)


def record_call(runtime: Runtime, suspects: list[Path], quarantine_dir: Path, since: float) -> None:
    """Note a call's missing protected paths before it starts, so a crash cannot hide what it made."""
    if suspects:
        entry = {"quarantine": os.fsdecode(quarantine_dir), "since": since,
                 "paths": [os.fsdecode(p) for p in suspects]}
        with open(runtime.journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


def forget_calls(runtime: Runtime) -> None:
    """No call is in flight any more: the journal can start over."""
    try:
        os.truncate(runtime.journal, 0)
    except OSError:
        pass


def reap_stale(parent: Path) -> list[str]:
    """Finish the calls of ketch processes of this user that died in the middle of one.

    What appeared at a recorded path since its call started is the command's (or, rarely,
    the user's, made after the crash): it is moved into quarantine, never deleted.
    """
    notes: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return notes
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
        notes += _finish_calls(root / "calls")
        remove_runtime(root)
    return notes


def _finish_calls(journal: Path) -> list[str]:
    notes: list[str] = []
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except OSError:
        return notes
    for line in lines:
        try:
            entry = json.loads(line)
            folder, since = Path(entry["quarantine"]), float(entry["since"])
            paths = [Path(p) for p in entry["paths"]]
        except (ValueError, KeyError, TypeError):
            continue
        for path in paths:
            try:
                if os.lstat(path).st_ctime < since - 1:
                    continue
            except OSError:
                continue
            if note := quarantine(path, folder, why="was created by a command that ran when ketch was killed"):
                notes.append(note)
    return notes


def now() -> float:
    """The clock `since` is measured on: file ctimes are wall-clock times."""
    return time.time()


def pid_namespace() -> int:
    """Which pid namespace our pids belong to: a folder from another one is not ours to judge."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _pid_of(name: str) -> int | None:
    """The pid in `ketch-<pid>-<pid namespace>-<random>` if it is one of this namespace."""
    parts = name.split("-")
    if len(parts) < 4 or parts[0] + "-" != _PREFIX or not parts[1].isdigit() or parts[2] != str(pid_namespace()):
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

"""Kernel limits on a sandboxed command's tree: rlimits, and a cgroup where one is usable.

The limits are put on the sandbox's first process (bwrap's pid 1) while bwrap holds it
before starting the command, so every process of the command inherits them and none
can start before they hold. Setting RLIMIT_NPROC there, after bwrap made the sandbox's
user namespace, makes the kernel count only the sandbox's own tasks (Linux >= 5.14
counts per user namespace), not every process the user runs.

RLIMIT_NPROC never binds a process whose user is root on the host, with or without a
user namespace mapping it (the kernel exempts the root user outright). So when ketch
runs as root, the process limit needs a pids cgroup: one is made per call where the
cgroup filesystem is writable (cgroup v1 `pids`/`memory` hierarchies, or v2 with the
pids controller enabled one level up). Where neither works, `Enforcement` says so.
"""

from __future__ import annotations

import errno
import itertools
import os
import resource
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketch.security.sandbox.policy import SandboxLimits
from ketch.security.sandbox.runtime import pid_alive, pid_namespace

_counter = itertools.count()


def apply_rlimits(pid: int, limits: SandboxLimits) -> None:
    """Lower pid's limits (never above its current hard limits, which only root may raise)."""
    wanted = (
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_DATA, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_CORE, 0),
    )
    for which, value in wanted:
        _, hard = resource.prlimit(pid, which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.prlimit(pid, which, (value, value))


@dataclass(frozen=True)
class Enforcement:
    """How each limit is enforced here, for the transcript and `ketch doctor`-style reports."""

    processes: str
    memory: str
    file_size: str
    wall_time: str = "killed at the deadline with its whole pid namespace"
    output: str = "head and tail kept, middle cut"


@dataclass
class _Group:
    dirs: list[Path]


class Cgroups:
    """Makes one cgroup per call under a writable cgroup filesystem, if there is one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked = False
        self._parents: dict[str, Path] = {}  # "pids"/"memory" -> directory to create groups in
        self._v2 = False
        self.reason = "not checked yet"

    @property
    def available(self) -> bool:
        self._check()
        return bool(self._parents)

    def create(self, limits: SandboxLimits) -> _Group | None:
        """A fresh group with the limits set; None if cgroups are not usable here at all.

        Once they proved usable, a failure raises OSError: the caller fails closed rather
        than run one command without its process limit.
        """
        self._check()
        return self._make(limits)

    def _make(self, limits: SandboxLimits) -> _Group | None:
        if not self._parents:
            return None
        name = f"ketch-{os.getpid()}-{pid_namespace()}-{next(_counter)}"
        group = _Group(dirs=[])
        try:
            pids = self._parents["pids"] / name
            pids.mkdir()
            group.dirs.append(pids)
            (pids / "pids.max").write_text(str(limits.processes))
            if self._v2 and (pids / "memory.max").exists():
                (pids / "memory.max").write_text(str(limits.tree_memory_bytes))
                if (pids / "memory.swap.max").exists():
                    (pids / "memory.swap.max").write_text("0")
            elif "memory" in self._parents:
                memory = self._parents["memory"] / name
                memory.mkdir()
                group.dirs.append(memory)
                (memory / "memory.limit_in_bytes").write_text(str(limits.tree_memory_bytes))
        except OSError:
            self.release(group)
            raise
        return group

    @staticmethod
    def attach(group: _Group, pid: int) -> None:
        for d in group.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    @staticmethod
    def release(group: _Group) -> None:
        """Remove the group; its processes are dead, but the kernel may lag a moment."""
        for d in reversed(group.dirs):
            for attempt in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 49:
                        break
                    time.sleep(0.01)

    def _check(self) -> None:
        with self._lock:
            if self._checked:
                return
            try:
                parents, self._v2, self.reason = find_parents(
                    Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text()
                )
            except OSError as exc:
                parents, self.reason = {}, f"cgroups unreadable: {exc}"
            self._parents = parents
            self._checked = True
            if not parents:
                return
            _reap_stale(parents.values())
            try:
                trial = self._make(SandboxLimits())
            except OSError as exc:
                self._parents = {}
                self.reason = f"the cgroup filesystem is not writable by ketch ({exc.strerror or exc})"
                return
            if trial is not None:
                self.release(trial)


def _reap_stale(parents: Iterable[Path]) -> None:
    """Remove the empty groups of ketch processes (of our pid namespace) that were killed mid-call."""
    mine = f"-{pid_namespace()}-"
    for parent in parents:
        try:
            names = [e.name for e in os.scandir(parent) if e.name.startswith("ketch-") and mine in e.name]
        except OSError:
            continue
        for name in names:
            pid = name.split("-")[1]
            if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
                continue
            try:
                (parent / name).rmdir()
            except OSError:
                pass


def find_parents(cgroup_text: str, mountinfo_text: str) -> tuple[dict[str, Path], bool, str]:
    """Directories in which ketch may make groups, from /proc/self/{cgroup,mountinfo}.

    cgroup v1 when its pids hierarchy is mounted (groups go under ketch's own group
    there); otherwise v2, as siblings of ketch's own group (a v2 group that holds
    processes cannot delegate controllers to children), if pids is enabled there.
    """
    own: dict[str, str] = {}
    for line in cgroup_text.splitlines():
        _hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        own[controllers] = path
    v1: dict[str, Path] = {}
    v2_mount: Path | None = None
    for line in mountinfo_text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mountpoint, fstype, options = fields[3], Path(fields[4]), tail[0], tail[2].split(",")
        if fstype == "cgroup2" and root == "/" and v2_mount is None:
            v2_mount = mountpoint
        elif fstype == "cgroup" and root == "/":
            for controller in ("pids", "memory"):
                if controller in options:
                    own_path = next((p for c, p in own.items() if controller in c.split(",")), None)
                    if own_path is not None:
                        v1[controller] = mountpoint / own_path.lstrip("/")
    if "pids" in v1:
        return v1, False, "cgroup v1"
    if v2_mount is not None and "" in own:
        mine = v2_mount / own[""].lstrip("/")
        # A v2 group holding processes cannot also delegate controllers: make siblings.
        parent = mine if mine == v2_mount else mine.parent
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            enabled = []
        if "pids" in enabled:
            return {"pids": parent}, True, "cgroup v2"
        return {}, True, f"cgroup v2 without the pids controller enabled in {parent}"
    return {}, False, "no cgroup filesystem with the pids controller"


def enforcement(cgroups: Cgroups, limits: SandboxLimits) -> Enforcement:
    """What actually binds here, checked on this machine."""
    root = os.geteuid() == 0
    if cgroups.available:
        processes = f"pids cgroup ({cgroups.reason}): at most {limits.processes} tasks per command"
        memory = (
            f"RLIMIT_DATA {limits.memory_bytes} bytes per process; "
            f"{cgroups.reason} memory limit {limits.tree_memory_bytes} bytes for the tree"
        )
    else:
        if root:
            processes = (
                "NOT ENFORCED: ketch runs as root, which RLIMIT_NPROC never binds, and no writable pids "
                f"cgroup was found ({cgroups.reason}); only the wall-time limit bounds a fork bomb"
            )
        else:
            processes = f"RLIMIT_NPROC {limits.processes} tasks, counted in the sandbox's own user namespace"
        memory = f"RLIMIT_DATA {limits.memory_bytes} bytes per process (no cgroup for the tree: {cgroups.reason})"
    return Enforcement(
        processes=processes,
        memory=memory,
        file_size=f"RLIMIT_FSIZE {limits.file_size_bytes} bytes per file; private /tmp capped at {limits.tmp_bytes} bytes",
    )

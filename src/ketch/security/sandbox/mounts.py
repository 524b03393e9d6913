"""The bubblewrap command line: a fixed part per sandbox, a per-call part read from disk.

Order matters, because a later mount covers an earlier one:

1. the fixed part: `/` read-only, fresh /dev and /proc, a private /tmp, /run hidden
   (it holds the sockets of the session bus, systemd, docker, nscd and resolved: a
   read-only mount does not stop connect(2), and each of those can run code outside);
2. credential folders that contain a writable root are hidden first (a tmpfs, made
   read-only once the roots are bound inside it);
3. the writable roots, the package caches and ketch's state folder;
4. each folder between a root and a protected path is bound onto itself, so it is a
   mount point: it cannot be renamed away (`mv .git .git_old; mkdir .git`), and
   neither can anything mounted below;
5. protected paths read-only: existing ones bound onto themselves (at their real path,
   so a symlink to them cannot be written through either). A missing one gets no
   placeholder (a mount point shows in the user's tree, and an empty `.git/commondir`
   there breaks every git outside): the first missing component on the way to it is a
   *suspect*, watched while the command runs and moved into quarantine if it exists when
   the command ends (security.sandbox.quarantine). Its parent folder is pinned like the
   folders of step 4. Symlinks met on the way are checked, and put back, after the call;
6. the remaining credential paths hidden (empty read-only folder; a file becomes an
   unopenable device node).

Paths are resolved at each call: a link, a hook folder or a credential file may appear
or change between calls.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ketch.security.git.places import GitPlaces
from ketch.security.protected import SandboxEntries
from ketch.security.sandbox.policy import SandboxPolicy
from ketch.security.sandbox.probe import Bwrap
from ketch.security.sandbox.runtime import Runtime


@dataclass
class CallPlan:
    args: list[str]
    suspects: list[Path] = field(default_factory=list)  # missing on the way to a protected path
    guards: list[tuple[Path, str]] = field(default_factory=list)  # symlinks that must survive
    git_places: GitPlaces | None = None                     # git's places protected for this call


def static_args(bwrap: Bwrap, policy: SandboxPolicy, unshare_net: bool) -> list[str]:
    """Namespaces, the read-only root and the private scratch areas: the same every call."""
    args = [bwrap.path, "--unshare-user"]
    if bwrap.disable_userns:
        args.append("--disable-userns")  # a nested namespace is kernel attack surface only
    args += ["--cap-drop", "ALL", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if unshare_net:
        args.append("--unshare-net")
    args += ["--die-with-parent", "--new-session", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if bwrap.tmpfs_size:
        args += ["--size", str(policy.limits.tmp_bytes)]
    args += ["--tmpfs", "/tmp"]
    for tool_dir in _tool_dirs_under(Path("/tmp")):
        args += ["--ro-bind", str(tool_dir), str(tool_dir)]
    for run in ("/run", "/var/run"):
        if os.path.isdir(run) and not os.path.islink(run):
            args += ["--tmpfs", run]
    if not unshare_net:
        # Full network was allowed: keep name resolution working when resolv.conf lives in /run.
        resolv = os.path.realpath("/etc/resolv.conf")
        if resolv.startswith("/run/") and os.path.exists(resolv):
            args += ["--ro-bind", os.path.dirname(resolv), os.path.dirname(resolv)]
    return args


def _tool_dirs_under(scratch: Path) -> list[Path]:
    """Program folders the private scratch area would hide: PATH entries and this Python's prefix.

    A virtualenv or a tool cache under /tmp (common on CI runners) must stay runnable inside,
    read-only; nothing else of the host's /tmp is shown. A venv's `bin` brings its whole venv.
    """
    import sys

    found: dict[Path, None] = {}
    candidates = [Path(p) for p in os.environ.get("PATH", "").split(":") if p.startswith("/")]
    candidates += [Path(sys.prefix), Path(os.path.dirname(os.path.realpath(sys.executable)))]
    for entry in candidates:
        real = _real(entry)
        if not _inside(real, scratch) or real == scratch or not real.is_dir():
            continue
        if real.name == "bin" and (real.parent / "pyvenv.cfg").is_file():
            real = real.parent
        found[real] = None
    roots = sorted(found, key=lambda p: len(p.parts))
    return [p for p in roots if not any(_inside(p, q) and p != q for q in roots)]


def _inside(path: Path, root: Path) -> bool:
    """Containment by path components, never by string prefix."""
    return path.parts[: len(root.parts)] == root.parts


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


class Planner:
    """Turns the policy plus what is on disk now into the per-call bwrap arguments."""

    def __init__(self, policy: SandboxPolicy, runtime: Runtime, entries: SandboxEntries) -> None:
        self.policy = policy
        self.runtime = runtime
        self.entries = entries

    def plan(self, cwd: Path, writable: bool, in_flight: Collection[Path] = ()) -> CallPlan:
        """The per-call arguments. `in_flight`: suspects of concurrent calls (they may be mid-creation)."""
        roots = self._roots()
        entries, git_places = self.entries.current()  # a repository may have appeared since the last call
        binds = list(roots)
        if writable:
            binds += self._caches() if self.policy.writable_caches else [self.runtime.cache]
            binds.append(self.runtime.state)
        if self.policy.allowed_hosts and not self.policy.network:
            read_only_binds = [self.runtime.net]
        else:
            read_only_binds = []
        secrets = self._secrets()
        early = [s for s, is_dir in secrets if is_dir and any(_inside(b, s) and b != s for b in binds)]
        plan = CallPlan(args=[], git_places=git_places)
        for s in early:
            plan.args += ["--tmpfs", str(s)]
        # Read-only views still bind the roots (read-only): a root under /tmp is otherwise
        # hidden by the private /tmp.
        bind = "--bind" if writable else "--ro-bind"
        for b in dict.fromkeys(binds):
            plan.args += [bind, str(b), str(b)]
        for b in read_only_binds:
            plan.args += ["--ro-bind", str(b), str(b)]
        for s in early:
            plan.args += ["--remount-ro", str(s)]
        if writable:
            self._protect(roots, plan, in_flight, entries)
        hidden = list(early)
        for s, is_dir in sorted(secrets, key=lambda item: len(item[0].parts)):
            if any(_inside(s, h) for h in hidden):
                continue  # already out of sight, and no mount point can be made in there
            source = self.runtime.empty_dir if is_dir else Path("/dev/null")
            plan.args += ["--ro-bind", str(source), str(s)]
            if is_dir:
                hidden.append(s)
        plan.args += ["--chdir", str(cwd)]
        return plan

    def _roots(self) -> list[Path]:
        roots = []
        for root in self.policy.writable_roots:
            real = _real(root)
            if real.is_dir():
                roots.append(real)
        return list(dict.fromkeys(roots))

    def _forbidden(self) -> list[Path]:
        paths = [p for p, _ in self.entries.no_write] + list(self.entries.no_read)
        return list(dict.fromkeys([*paths, *(_real(p) for p in paths)]))

    def _caches(self) -> list[Path]:
        """The user's package caches, when opted in: those that exist and overlap no protected path."""
        home = self.policy.home
        assert home is not None
        found = []
        forbidden = self._forbidden()
        for rel in self.policy.caches:
            real = _real(home / rel)
            if not real.is_dir() or real == Path("/"):
                continue
            if any(_inside(real, f) or _inside(f, real) for f in forbidden):
                continue
            found.append(real)
        return found

    def _secrets(self) -> list[tuple[Path, bool]]:
        """Existing credential paths at their real location, and whether each is a folder."""
        found: dict[Path, bool] = {}
        for literal in self.entries.no_read:
            real = _real(literal)
            try:
                st = os.stat(real)
            except OSError:
                continue
            found[real] = stat.S_ISDIR(st.st_mode)
        return list(found.items())

    def _protect(self, roots: list[Path], plan: CallPlan, in_flight: Collection[Path], entries: SandboxEntries) -> None:
        self_binds: dict[Path, None] = {}
        read_only: dict[Path, None] = {}
        suspects: dict[Path, None] = {}
        for literal, _ in entries.no_write:
            self._guard_links(literal, roots, plan)
            real = _real(literal)
            root = next((r for r in sorted(roots, key=lambda r: -len(r.parts)) if _inside(real, r)), None)
            if root is None or any(_inside(real, done) for done in read_only):
                continue
            if real == root:  # a root that is itself protected (say, ~/.ketch added by hand)
                read_only[root] = None
                continue
            current = root
            for part in real.parts[len(root.parts):]:
                current = current / part
                st = _lstat(current)
                if st is None or current in in_flight:
                    # Missing (or being made by a concurrent call): watched, and checked after.
                    suspects[current] = None
                    self_binds[current.parent] = None
                    break
                if current == real or not stat.S_ISDIR(st.st_mode):
                    # The protected path itself; or a file standing where its parent folder
                    # should be (a worktree's `.git` file points git at another folder).
                    read_only[current] = None
                    break
                self_binds[current] = None
        for d in sorted(self_binds, key=lambda p: len(p.parts)):
            if d not in roots and not any(_inside(d, done) for done in read_only):
                plan.args += ["--bind", str(d), str(d)]
        for dest in sorted(read_only, key=lambda p: len(p.parts)):
            plan.args += ["--ro-bind", str(dest), str(dest)]
        plan.suspects = [s for s in suspects if not any(_inside(s, done) for done in read_only)]

    @staticmethod
    def _guard_links(literal: Path, roots: list[Path], plan: CallPlan) -> None:
        """Remember the symlinks met while resolving a protected path inside a writable root.

        Mounts follow links, so a link's target gets protected; the link itself, sitting in
        a writable folder, could still be swapped for a real file or folder that then takes
        the protected name. Each such link is checked, and put back, after the call.
        """
        pending = list(literal.parts[1:])
        current = Path("/")
        hops = 0
        while pending and hops < 40:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                current = current.parent
                continue
            step = current / part
            st = _lstat(step)
            if st is None:
                return
            if not stat.S_ISLNK(st.st_mode):
                current = step
                continue
            hops += 1
            target = os.readlink(step)
            if any(_inside(current, r) for r in roots):
                plan.guards.append((step, target))
            target_parts = list(Path(target).parts)
            if os.path.isabs(target):
                current = Path("/")
                target_parts = target_parts[1:]
            pending = target_parts + pending

"""The one door through which tools start processes: the OS sandbox (DESIGN.md §5.1).

`Sandbox(policy)` is the CommandRunner the agent loop hands its tools. Each call runs
the command under bubblewrap: `/` read-only, the workspace writable except protected
paths, credential stores hidden, a private /tmp, no network, its own pid namespace (so
ketch's processes, its /proc/<pid>/environ and the user's session are out of sight),
a new session (no TIOCSTI into the user's terminal), no unix socket (a seccomp filter:
no host socket can be reached), kernel limits, and the whole tree killed when the
command ends, times out, is cancelled, creates a protected path, or ketch dies. A
protected path the command created is moved out of the user's tree when it ends.

If the sandbox cannot start, every call raises SandboxUnavailable; there is no silent
fallback. `run_unsandboxed` exists only for an explicit `--sandbox off`.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from ketch.errors import SandboxUnavailable
from ketch.security.git.audit import audit_after_command
from ketch.security.protected import sandbox_entries
from ketch.security.sandbox.base import CommandResult
from ketch.security.sandbox.env import child_env
from ketch.security.sandbox.hints import network_hint
from ketch.security.sandbox.launch import launch
from ketch.security.sandbox.limits import Cgroups, Enforcement, enforcement
from ketch.security.sandbox.mounts import CallPlan, Planner, static_args
from ketch.security.sandbox.policy import SandboxLimits, SandboxPolicy
from ketch.security.sandbox.probe import OPT_OUT, Bwrap, probe
from ketch.security.sandbox.process import cap_output, run_unsandboxed, supervise
from ketch.security.sandbox.proxy import Proxy
from ketch.security.sandbox.quarantine import quarantine
from ketch.security.sandbox.runtime import (
    Runtime,
    forget_calls,
    make_runtime,
    now,
    record_call,
    remove_runtime,
    restore_link,
)
from ketch.security.sandbox.seccomp import machine, unix_socket_filter
from ketch.security.sandbox.served import Served, on_lasting_thread
from ketch.security.sandbox.tripwire import Tripwire

__all__ = [
    "Sandbox", "SandboxLimits", "SandboxPolicy", "SandboxUnavailable", "cap_output", "child_env",
    "run_unsandboxed",
]

# File systems keep coarse timestamps: a git folder changed during a call may show a ctime
# up to a tick before the call started.
_CTIME_SLACK_NS = 1_000_000_000


class _Core:
    """What every view of one sandbox shares: bwrap, the runtime folder, the bookkeeping."""

    def __init__(self, policy: SandboxPolicy, bwrap: str | None, runtime_parent: Path | None) -> None:
        self.policy = policy
        self.bwrap_request = bwrap
        self.runtime_parent = runtime_parent
        self.lock = threading.Lock()
        self.bwrap: Bwrap | None = None
        self.static: list[str] = []
        self.runtime: Runtime | None = None
        self.planner: Planner | None = None
        self.cgroups = Cgroups()
        self.suspects: dict[Path, int] = {}  # missing protected path -> calls in flight watching it
        self.seccomp: bytes | None = None  # the socket-family filter (unix sockets only if the user allowed them)
        self.finalizer: weakref.finalize[[Path, Proxy | None], _Core] | None = None
        self.proxy: Proxy | None = None
        self.tripwire = Tripwire()

    @property
    def unshare_net(self) -> bool:
        return not self.policy.network

    @property
    def uses_proxy(self) -> bool:
        return bool(self.policy.allowed_hosts) and not self.policy.network

    def prepare(self) -> tuple[Bwrap, list[str], Planner]:
        with self.lock:
            if self.bwrap is None:
                name = machine()
                if name is not None:
                    self.seccomp = unix_socket_filter(name, allow_unix=self.policy.allow_unix_sockets)
                elif not self.policy.allow_unix_sockets:
                    import platform

                    raise SandboxUnavailable(
                        f"ketch has no seccomp filter for this machine ({platform.machine()}) to keep sandboxed "
                        "commands away from host unix sockets; set \"sandbox\": {\"allowUnixSockets\": true} in "
                        f"your user settings to run without it, {OPT_OUT}.")
                bwrap = probe(self.bwrap_request, lambda b: static_args(b, self.policy, True))
                self.static = static_args(bwrap, self.policy, self.unshare_net)
                self.bwrap = bwrap
            if self.planner is None:
                runtime = make_runtime(self.runtime_parent)
                proxy = None
                if self.uses_proxy:
                    try:
                        # The forwarder's folder is bound in, read-only.
                        shutil.copyfile(Path(__file__).with_name("forwarder.py"), runtime.net / "forwarder.py")
                        proxy = Proxy(self.policy.allowed_hosts)
                    except (OSError, ValueError) as exc:
                        remove_runtime(runtime.root)
                        raise SandboxUnavailable(f"the network allow-list proxy cannot start ({exc})") from None
                self.runtime, self.proxy = runtime, proxy
                self.finalizer = weakref.finalize(self, _shut_down, runtime.root, proxy)
                policy = self.policy
                assert policy.home is not None and policy.ketch_home is not None
                entries = sandbox_entries(list(policy.writable_roots), policy.home, policy.ketch_home)
                self.planner = Planner(policy, self.runtime, entries)
            return self.bwrap, self.static, self.planner

    def take_notes(self) -> list[str]:
        """What recovering a killed ketch's call did (once, for the next result the model sees)."""
        if self.runtime is None or not self.runtime.notes:
            return []
        notes = list(self.runtime.notes)
        self.runtime.notes.clear()
        return notes

    def close(self) -> None:
        """Stop the proxy and remove the runtime folder; a later call starts afresh."""
        with self.lock:
            if self.finalizer is not None:
                self.finalizer()
            self.finalizer = self.runtime = self.planner = self.proxy = None
        self.tripwire.close()


def _shut_down(root: Path, proxy: Proxy | None) -> None:
    if proxy is not None:
        proxy.close()
    remove_runtime(root)


class Sandbox:
    """A CommandRunner that runs every command under bubblewrap with `policy`.

    Construction does nothing; the first call (or `check()`) probes bwrap once per
    process and raises SandboxUnavailable, with the reason and the fix, if it cannot
    work. `bwrap` names the binary (tests point it at a missing path); `runtime_parent`
    is where ketch's private folder for this sandbox goes (default $XDG_RUNTIME_DIR or
    the temp folder). `close()` removes that folder; it also goes when ketch exits.
    """

    def __init__(self, policy: SandboxPolicy, *, bwrap: str | None = None, runtime_parent: Path | None = None) -> None:
        self.policy = policy
        self._core = _Core(policy, bwrap, runtime_parent)
        self._writable = True

    # --- what the rest of ketch uses --------------------------------------------------

    def check(self) -> None:
        """Probe now (e.g. at start-up) instead of at the first command."""
        self._core.prepare()

    @property
    def state_dir(self) -> Path:
        """A private folder bound read-write at the same path inside: Bash's cwd file."""
        self._core.prepare()
        assert self._core.runtime is not None
        return self._core.runtime.state

    def read_only(self) -> Sandbox:
        """The same sandbox with nothing writable: for read-only programs such as rg."""
        view = Sandbox.__new__(Sandbox)
        view.policy, view._core, view._writable = self.policy, self._core, False
        return view

    def enforcement(self) -> Enforcement:
        """How each limit binds on this machine (a root user needs a cgroup for processes)."""
        return enforcement(self._core.cgroups, self.policy.limits)

    def close(self) -> None:
        """Remove ketch's private folder (state, proxy socket) now rather than at exit."""
        self._core.close()

    def __call__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        timeout_s: float,
        cancel: threading.Event | None = None,
        max_output_chars: int = 30000,
    ) -> CommandResult:
        _, static, planner = self._core.prepare()
        limits = self.policy.limits
        timeout_s = min(timeout_s, limits.wall_s)
        max_output_chars = min(max_output_chars, limits.output_chars)
        started_ns = time.time_ns() - _CTIME_SLACK_NS
        with self._core.lock:
            plan = planner.plan(Path(os.path.abspath(cwd)), self._writable, self._core.suspects)
            self._hold(plan)
            notes = self._core.take_notes()
        proxy = self._core.proxy
        refused_before = len(proxy.denied) if proxy is not None else 0
        stop: list[Callable[[], None]] = []  # set once the sandbox exists
        ticket = self._core.tripwire.watch(plan.suspects, lambda path: [kill() for kill in stop])
        try:
            result = self._run(static + plan.args, argv, timeout_s, cancel, max_output_chars, stop)
        finally:
            notes += self._end_call(plan, ticket, started_ns)
        if not self.policy.network and result.exit_code not in (0, None):
            refused = proxy.denied[refused_before:] if proxy is not None else []
            hint = network_hint(result.output, (self.policy.ketch_home or Path("~/.ketch")) / "settings.json", refused)
            if hint:
                notes.append(hint)
        if notes:
            result.output = (result.output.rstrip("\n") + "\n" if result.output else "") + "\n".join(notes)
        return result

    def spawn(self, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Served:
        """Start a long-lived process (an MCP server) in this sandbox, speaking over three pipes.

        It gets what a command gets (the same mounts, limits, proxy and protections, and
        the tripwire kills it the moment it creates a protected path); `env` is added to
        the sandbox's environment. `Served.close()` ends it and runs the checks a command's
        end runs, returning their notes.
        """
        _, static, planner = self._core.prepare()
        started_ns = time.time_ns() - _CTIME_SLACK_NS
        with self._core.lock:
            plan = planner.plan(Path(os.path.abspath(cwd)), self._writable, self._core.suspects)
            self._hold(plan)
        stop: list[Callable[[], None]] = []
        ticket = self._core.tripwire.watch(plan.suspects, lambda path: [kill() for kill in stop])
        try:
            launched = on_lasting_thread(lambda: launch(self._core, static + plan.args, argv,
                                                        writable=self._writable, pipes=True, extra_env=env,
                                                        before_gate=lambda started: stop.append(started.kill)))
        except BaseException:
            self._end_call(plan, ticket, started_ns)
            raise

        def finish() -> list[str]:
            launched.kill()
            launched.proc.wait()
            launched.reap(self._core)
            return self._end_call(plan, ticket, started_ns)

        def check() -> list[str]:
            if not self._writable or plan.git_places is None or self.policy.home is None:
                return []
            return audit_after_command(plan.git_places, list(self.policy.writable_roots), self.policy.home,
                                       started_ns)

        return Served(launched.proc, finish, check)

    def _end_call(self, plan: CallPlan, ticket: int, started_ns: int) -> list[str]:
        """What ends every call: release the tripwire and the plan, check what git folders it touched."""
        tripped = self._core.tripwire.release(ticket)
        with self._core.lock:
            notes = self._release(plan, tripped)
        if self._writable and plan.git_places is not None and self.policy.home is not None:
            # Runs even when the call failed: what the command wrote is on disk either way.
            notes += audit_after_command(plan.git_places, list(self.policy.writable_roots),
                                         self.policy.home, started_ns)
        return notes

    # --- one call -----------------------------------------------------------------

    def _run(
        self, bwrap_args: list[str], argv: list[str], timeout_s: float, cancel: threading.Event | None,
        max_output_chars: int, stop: list[Callable[[], None]],
    ) -> CommandResult:
        """Launch the sandbox, supervise the command, and wait until its namespace is gone."""
        # The watch was armed before bwrap started, and can kill it before its gate opens.
        launched = launch(self._core, bwrap_args, argv, writable=self._writable, pipes=False,
                          before_gate=lambda started: stop.append(started.kill))
        try:
            return supervise(launched.proc, timeout_s=timeout_s, cancel=cancel, max_output_chars=max_output_chars,
                             kill=launched.kill)
        except BaseException:  # Ctrl-C on the way in or out of supervise: take the tree down first
            launched.kill()
            raise
        finally:
            # bwrap's pid 1 takes the whole namespace with it (the kernel kills and reaps
            # every process in it first); wait until it is gone, so nothing of the command
            # (a background job included) can create a protected path after the check.
            launched.reap(self._core)

    def _hold(self, plan: CallPlan) -> None:
        """Count this call's suspects (a concurrent call treats them as suspects too) and journal them."""
        counts = self._core.suspects
        for path in plan.suspects:
            counts[path] = counts.get(path, 0) + 1
        assert self._core.runtime is not None
        record_call(self._core.runtime, plan.suspects, self._quarantine_dir, now())

    @property
    def _quarantine_dir(self) -> Path:
        assert self.policy.ketch_home is not None
        return self.policy.ketch_home / "quarantine"

    def _release(self, plan: CallPlan, tripped: list[Path]) -> list[str]:
        """Move out what the call made at a protected path; put back swapped symlinks; say so."""
        counts = self._core.suspects
        notes = []
        for path in plan.suspects:
            counts[path] -= 1
            if counts[path] <= 0:
                del counts[path]
            why = "was created by the command, which was stopped at once" if path in tripped \
                else "was created by the command"
            if note := quarantine(path, self._quarantine_dir, why):
                notes.append(note)
        if not counts and self._core.runtime is not None:
            forget_calls(self._core.runtime)
        return notes + [note for path, target in plan.guards if (note := restore_link(path, target))]

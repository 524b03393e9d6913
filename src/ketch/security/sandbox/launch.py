"""Starting one bubblewrap sandbox: held at its gate until its pid 1 has its limits, then let go.

Shared by the one-shot command runner (Sandbox.__call__) and the long-lived processes of
Sandbox.spawn (MCP servers), so both get the same proxy forwarder, seccomp filter, rlimits
and cgroup, and the same kill.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ketch.errors import SandboxUnavailable
from ketch.security.sandbox.env import sandbox_env
from ketch.security.sandbox.limits import apply_rlimits
from ketch.security.sandbox.probe import OPT_OUT

if TYPE_CHECKING:
    from ketch.security.sandbox.bwrap import _Core

_START_TIMEOUT_S = 20.0
_EXIT_WAIT_S = 5.0
# Where the in-sandbox forwarder listens; the sandbox's loopback is its own, so any fixed port works.
PROXY_PORT = 3128


@dataclass
class Launched:
    """A started sandbox: bwrap, its pid 1 (as a pidfd, -1 if unknown) and its cgroup."""

    proc: subprocess.Popen[bytes]
    pidfd: int
    group: object | None

    def kill(self) -> None:
        """Kill bwrap's pid 1 (which takes the whole pid namespace down) and bwrap itself."""
        kill(self.proc, self.pidfd)

    def reap(self, core: _Core) -> None:
        """Wait until the namespace is gone (nothing of it can still write), then free its fds and cgroup."""
        if self.pidfd >= 0:
            select.select([self.pidfd], [], [], _EXIT_WAIT_S)
            os.close(self.pidfd)
            self.pidfd = -1
        if self.group is not None:
            core.cgroups.release(self.group)  # type: ignore[arg-type]
            self.group = None


def launch(core: _Core, bwrap_args: list[str], argv: list[str], *, writable: bool, pipes: bool,
           extra_env: dict[str, str] | None = None,
           before_gate: Callable[[Launched], None] = lambda launched: None) -> Launched:
    """Start bwrap held at its gate, put limits on its pid 1, open the gate.

    `pipes`: stdin, stdout and stderr are three pipes (a server speaking over stdio);
    otherwise stdin is /dev/null and stderr goes with stdout (a command's output).
    `before_gate` gets the started sandbox before the gate opens: the caller's tripwire can
    kill it from then on, so a protected path made at once is never missed.
    """
    policy = core.policy
    limits = policy.limits
    proxy_port = None
    passed: list[int] = []  # fds for bwrap and the sandbox; ours are closed once it started
    channel = None
    if core.proxy is not None:
        proxy_port = PROXY_PORT
        assert core.runtime is not None
        forwarder = str(core.runtime.net / "forwarder.py")
        channel = core.proxy.channel()
        passed.append(channel.fileno())
        argv = [_python_inside(), "-I", "-S", forwarder, str(channel.fileno()), str(PROXY_PORT), "--", *argv]
    extra: list[str] = []
    if core.seccomp is not None:
        from ketch.security.sandbox.seccomp import filter_fd

        seccomp_fd = filter_fd(core.seccomp)
        passed.append(seccomp_fd)
        extra += ["--seccomp", str(seccomp_fd)]
    cache = None
    if writable and not policy.writable_caches and core.runtime is not None:
        cache = core.runtime.cache
    env = sandbox_env(policy.home or Path("/"), proxy_port, cache=cache)
    env.update(extra_env or {})
    info_r, info_w = os.pipe()
    gate_r, gate_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [*bwrap_args, *extra, "--info-fd", str(info_w), "--block-fd", str(gate_r), "--", *argv],
            env=env,
            cwd="/",
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if pipes else subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(info_w, gate_r, *passed),
        )
    except OSError as exc:
        for fd in (info_r, info_w, gate_r, gate_w):
            os.close(fd)
        raise SandboxUnavailable(f"bubblewrap could not be started ({exc}); {OPT_OUT}.") from None
    finally:
        if channel is not None:
            channel.close()
        for fd in passed[1 if channel is not None else 0:]:
            os.close(fd)
    os.close(info_w)
    os.close(gate_r)
    pidfd = -1
    group = None
    try:
        child = _read_child_pid(info_r)
        if child is not None:
            pidfd = os.pidfd_open(child)
            apply_rlimits(child, limits)
            group = core.cgroups.create(limits)
            if group is not None:
                core.cgroups.attach(group, child)
    except BaseException as exc:  # also Ctrl-C while bwrap waits at its gate: it must not stay
        kill(proc, pidfd)
        proc.wait()
        if pidfd >= 0:
            os.close(pidfd)
        os.close(gate_w)
        if group is not None:
            core.cgroups.release(group)
        if not isinstance(exc, (OSError, ValueError)):
            raise
        raise SandboxUnavailable(f"could not put limits on the sandbox ({exc}); {OPT_OUT}.") from None
    finally:
        os.close(info_r)
    launched = Launched(proc, pidfd, group)
    before_gate(launched)
    try:
        os.write(gate_w, b"go")
    except BrokenPipeError:
        pass  # already stopped: a protected path appeared (a concurrent call made it)
    os.close(gate_w)
    return launched


def _python_inside() -> str:
    """An interpreter the sandbox can see for the forwarder: ketch's own unless under /tmp."""
    exe = sys.executable
    if exe and not Path(exe).resolve().is_relative_to("/tmp"):
        return exe
    return shutil.which("python3") or "python3"


def _read_child_pid(fd: int) -> int | None:
    """bwrap's pid 1 (host pid) from --info-fd, or None if bwrap failed before making it."""
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], _START_TIMEOUT_S)
        if not ready:
            raise OSError(f"bubblewrap did not start within {_START_TIMEOUT_S:g} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError):
            continue


def kill(proc: subprocess.Popen[bytes], pidfd: int) -> None:
    """Kill bwrap's pid 1 (which takes the whole pid namespace down) and bwrap itself."""
    if pidfd >= 0:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

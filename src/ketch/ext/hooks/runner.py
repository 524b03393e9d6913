"""Running hook commands: Claude Code's JSON on stdin, output captured up to a cap, a deadline.

Hooks are the person's programs (or a project's the person approved), so they run as Claude
Code runs them: outside the sandbox, in the project folder, through the shell. What they never
get is ketch's credentials: the environment is `child_env()` (secrets filtered by name and
value) plus CLAUDE_PROJECT_DIR. Each runs in its own process group, so a hook that hangs is
killed with everything it started when its timeout passes. Several run in parallel.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ketch.ext.hooks.config import HookCommand

MAX_STDOUT = 256 * 1024  # room for an updatedInput carrying a whole file
MAX_STDERR = 64 * 1024


@dataclass
class Finished:
    hook: HookCommand
    exit_code: int | None  # None: it did not finish (timeout, or it could not start)
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool = False
    error: str = ""  # why it could not start


@lru_cache(maxsize=1)
def shell() -> str:
    """The shell hook commands run in, resolved once to an absolute path (DESIGN.md §5.5)."""
    for candidate in ("/bin/bash", "/usr/bin/bash", "/bin/sh"):
        if os.access(candidate, os.X_OK):
            return candidate
    return "/bin/sh"


def hook_env(workspace: Path) -> dict[str, str]:
    from ketch.security.sandbox.env import child_env

    env = child_env()
    env["CLAUDE_PROJECT_DIR"] = str(workspace)
    return env


def run_all(hooks: list[HookCommand], payload: bytes, workspace: Path, env: dict[str, str]) -> list[Finished]:
    """Run the hooks at once; their results in the order given."""
    if len(hooks) == 1:
        return [run_one(hooks[0], payload, workspace, env)]
    results: list[Finished | None] = [None] * len(hooks)

    def work(i: int) -> None:
        results[i] = run_one(hooks[i], payload, workspace, env)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(hooks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def run_one(hook: HookCommand, payload: bytes, workspace: Path, env: dict[str, str]) -> Finished:
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen([shell(), "-c", hook.command], cwd=workspace, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return Finished(hook, None, "", "", 0, error=f"could not start: {exc.strerror or exc}")
    out, err, timed_out = _exchange(proc, payload, t0 + hook.timeout_s)
    if timed_out:
        _kill_group(proc.pid)
    code = proc.wait()
    return Finished(hook, None if timed_out else code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                    int((time.monotonic() - t0) * 1000), timed_out=timed_out)


def _exchange(proc: subprocess.Popen[bytes], payload: bytes, deadline: float) -> tuple[bytes, bytes, bool]:
    """Write stdin and read both outputs without blocking on either, until both end or the
    deadline passes (the third value). Output past the caps is read and dropped (the hook must not stall)."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    caps = {out_fd: MAX_STDOUT, err_fd: MAX_STDERR}
    got: dict[int, bytearray] = {fd: bytearray() for fd in caps}
    sel = selectors.DefaultSelector()
    os.set_blocking(proc.stdin.fileno(), False)
    sel.register(proc.stdin, selectors.EVENT_WRITE)
    for stream in (proc.stdout, proc.stderr):
        sel.register(stream, selectors.EVENT_READ)
    sent = 0
    view = memoryview(payload)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(got[out_fd]), bytes(got[err_fd]), True
            for key, _ in sel.select(remaining):
                if key.fileobj is proc.stdin:
                    try:
                        sent += os.write(key.fd, view[sent:sent + 65536])
                    except (BrokenPipeError, BlockingIOError) as exc:
                        if isinstance(exc, BlockingIOError):
                            continue
                        sent = len(payload)  # it does not read its input: fine
                    if sent >= len(payload):
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                room = caps[key.fd] - len(got[key.fd])
                if room > 0:
                    got[key.fd] += chunk[:room]
    finally:
        sel.close()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if not stream.closed:
                stream.close()
    return bytes(got[out_fd]), bytes(got[err_fd]), False


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

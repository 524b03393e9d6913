"""A long-lived process in the sandbox (an MCP server): its pipes, and one way to end it."""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")
_keeper: tuple[threading.Thread, queue.SimpleQueue[Callable[[], None]]] | None = None
_keeper_lock = threading.Lock()


class Served:
    """The pipes of a process Sandbox.spawn (or spawn_unsandboxed) started, and `close()`.

    `close()` kills the whole tree, waits until nothing of it can write any more, and
    returns the notes of the end-of-call checks (a protected path it created, moved out;
    a git folder it planted). It runs once; later calls return [].
    """

    def __init__(self, proc: subprocess.Popen[bytes], finish: Callable[[], list[str]],
                 check: Callable[[], list[str]] = list) -> None:
        self.proc = proc
        self._finish: Callable[[], list[str]] | None = finish
        self._check = check
        self._lock = threading.Lock()

    def check(self) -> list[str]:
        """The end-of-call git check, now, while it runs (after each of its tool calls): a git
        folder it planted is made harmless before anyone's git runs in it."""
        with self._lock:
            return [] if self._finish is None else self._check()

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def stderr(self) -> IO[bytes]:
        assert self.proc.stderr is not None
        return self.proc.stderr

    def poll(self) -> int | None:
        return self.proc.poll()

    def close(self) -> list[str]:
        with self._lock:
            finish, self._finish = self._finish, None
        if finish is None:
            return []
        notes = finish()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return notes


def spawn_unsandboxed(argv: list[str], *, cwd: Path, env: dict[str, str]) -> Served:
    """A server the person chose to run outside the sandbox (`"sandbox": false`, `--sandbox off`).

    It still gets no credentials: the user's environment minus secrets (env.child_env), plus
    what its entry gives it; and it is killed with its whole process group.
    """
    import os
    import signal

    from ketch.security.sandbox.env import child_env

    proc = subprocess.Popen(argv, cwd=cwd, env={**child_env(), **env}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def finish() -> list[str]:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        return []

    return Served(proc, finish)


def on_lasting_thread(start: Callable[[], T]) -> T:
    """Run `start` on one thread that lives as long as ketch, and return what it returned.

    bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that started it
    ends, not the process: a server started from a short-lived thread (the one connecting
    to it) would be killed the moment that thread finished.
    """
    global _keeper
    with _keeper_lock:
        if _keeper is None or not _keeper[0].is_alive():
            jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
            thread = threading.Thread(target=lambda: [job() for job in iter(jobs.get, None)], daemon=True,
                                      name="ketch-process-keeper")
            thread.start()
            _keeper = (thread, jobs)
        jobs = _keeper[1]
    done = threading.Event()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def job() -> None:
        try:
            outcome.append(start())
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            failure.append(exc)
        finally:
            done.set()

    jobs.put(job)
    done.wait()
    if failure:
        raise failure[0]
    return outcome[0]

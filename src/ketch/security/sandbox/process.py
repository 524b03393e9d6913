"""Running one child to completion: output capture, wall-clock limit, cancellation, kill.

Shared by the sandboxed runner and the explicit `--sandbox off` runner, so both cap
output and time the same way. The wait wakes on the child's exit through a pidfd
instead of polling, which keeps a fast command fast.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ketch.security.sandbox.base import CommandResult
from ketch.security.sandbox.env import child_env

_CANCEL_POLL_S = 0.05


def cap_output(text: str, max_chars: int) -> tuple[str, bool]:
    """Keep the head and the tail of long output; the middle is what models need least."""
    if len(text) <= max_chars:
        return text, False
    head = max_chars * 2 // 5
    tail = max_chars - head
    cut_lines = text[head : len(text) - tail].count("\n")
    note = f"\n\n[... {len(text) - max_chars} characters ({cut_lines} lines) cut from the middle ...]\n\n"
    return text[:head] + note + text[len(text) - tail :], True


class _Collector(threading.Thread):
    """Reads a pipe to EOF, keeping a bounded head and a rolling tail in memory."""

    def __init__(self, stream: IO[bytes], max_output_chars: int) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.limit = max(max_output_chars * 4, 1 << 16)
        self.head: list[bytes] = []
        self.kept = 0
        self.tail: list[bytes] = []
        self.tail_size = 0
        self.dropped = 0

    def run(self) -> None:
        read = self.stream.read1  # type: ignore[attr-defined]
        for chunk in iter(lambda: read(65536), b""):
            if self.kept < self.limit:
                self.head.append(chunk)
                self.kept += len(chunk)
                continue
            self.tail.append(chunk)
            self.tail_size += len(chunk)
            while self.tail_size - len(self.tail[0]) > self.limit:
                self.dropped += len(self.tail[0])
                self.tail_size -= len(self.tail.pop(0))

    def text(self) -> bytes:
        raw = b"".join(self.head)
        if self.dropped:
            raw += f"\n[... {self.dropped} bytes dropped ...]\n".encode()
        return raw + b"".join(self.tail)


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, cancel: threading.Event | None) -> str | None:
    """Wait for proc to exit: None, or "timeout" / "cancel" if it had to be stopped."""
    deadline = time.monotonic() + timeout_s
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = -1
    try:
        poller = select.poll()
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        while True:
            if cancel is not None and cancel.is_set():
                return "cancel"
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            step = min(left, _CANCEL_POLL_S)
            if pidfd >= 0:
                if poller.poll(step * 1000):
                    return None
            else:
                try:
                    proc.wait(timeout=step)
                    return None
                except subprocess.TimeoutExpired:
                    pass
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def supervise(
    proc: subprocess.Popen[bytes],
    *,
    timeout_s: float,
    cancel: threading.Event | None,
    max_output_chars: int,
    kill: Callable[[], None],
) -> CommandResult:
    """Collect proc's output until it ends, stopping it on timeout or cancel.

    `kill` stops whatever proc may have left running; it is called whether or not the
    command ended by itself, so a stray background job can neither hold the pipe open
    nor outlive the call, and also when the wait is interrupted (Ctrl-C raising in ketch's
    main thread), so the caller's clean-up finds the tree already gone instead of waiting
    for it.
    """
    assert proc.stdout is not None
    collector = _Collector(proc.stdout, max_output_chars)
    collector.start()
    try:
        stopped = _wait(proc, timeout_s, cancel)
    except BaseException:  # Ctrl-C (KeyboardInterrupt) in ketch: the command must not outlive it
        kill()
        raise
    kill()
    proc.wait()
    collector.join(timeout=2.0)
    proc.stdout.close()
    text = collector.text().decode("utf-8", errors="replace")
    text, truncated = cap_output(text, max_output_chars)
    return CommandResult(
        exit_code=None if stopped else proc.returncode,
        output=text,
        timed_out=stopped == "timeout",
        cancelled=stopped == "cancel",
        truncated=truncated or bool(collector.dropped),
    )


def run_unsandboxed(
    argv: list[str],
    *,
    cwd: Path,
    timeout_s: float,
    cancel: threading.Event | None = None,
    max_output_chars: int = 30000,
) -> CommandResult:
    """Run argv with NO OS sandbox: only for an explicit `--sandbox off`.

    The child still gets the scrubbed environment, its own session and process group
    (killed when the command ends), the wall-clock limit and the output cap; but it can
    write anywhere the user can, read every credential file and reach the network.
    """
    proc = subprocess.Popen(
        argv,
        cwd=str(cwd),
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def kill_group() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    return supervise(proc, timeout_s=timeout_s, cancel=cancel, max_output_chars=max_output_chars, kill=kill_group)

"""The one door through which tools start processes.

Today this runs the command directly in its own session and process group, with a
scrubbed environment, a wall-clock limit, an output cap and cancellation. The OS
sandbox (bubblewrap) of the security issue plugs in here, so no tool changes when it
lands. Credentials never reach a child: the environment is filtered by name.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from ketch.tools.base import CommandResult

# Names of variables that carry credentials. Children never see them (DESIGN.md §5.6).
_SECRET_NAME = re.compile(
    r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|SESSION_KEY|AUTH)",
    re.IGNORECASE,
)
_ALWAYS_KEEP = {"SSH_AUTH_SOCK"}


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a tool's child process gets: the user's, minus anything secret."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k in _ALWAYS_KEEP or not _SECRET_NAME.search(k)}
    env.pop("SSH_AUTH_SOCK", None)  # an agent socket is a credential too
    env.setdefault("PAGER", "cat")
    env.setdefault("GIT_PAGER", "cat")
    env["KETCH_AGENT"] = "1"
    return env


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def cap_output(text: str, max_chars: int) -> tuple[str, bool]:
    """Keep the head and the tail of long output; the middle is what models need least."""
    if len(text) <= max_chars:
        return text, False
    head = max_chars * 2 // 5
    tail = max_chars - head
    cut_lines = text[head : len(text) - tail].count("\n")
    note = f"\n\n[... {len(text) - max_chars} characters ({cut_lines} lines) cut from the middle ...]\n\n"
    return text[:head] + note + text[len(text) - tail :], True


def run(
    argv: list[str],
    *,
    cwd: Path,
    timeout_s: float,
    cancel: threading.Event | None = None,
    max_output_chars: int = 30000,
) -> CommandResult:
    """Run argv to completion (or timeout/cancel); stdout and stderr interleaved.

    Whatever the command leaves running in its process group is killed when it exits,
    so a stray background job can neither hold the pipe open nor outlive the call.
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
    chunks: list[bytes] = []
    kept = 0
    # Keep at most a bounded amount in memory: head plus a rolling tail.
    limit_bytes = max(max_output_chars * 4, 1 << 16)
    dropped = 0
    tail: list[bytes] = []
    tail_size = 0

    def reader() -> None:
        nonlocal kept, dropped, tail_size
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            if kept < limit_bytes:
                chunks.append(chunk)
                kept += len(chunk)
                continue
            tail.append(chunk)
            tail_size += len(chunk)
            while tail_size - len(tail[0]) > limit_bytes:
                dropped += len(tail[0])
                tail_size -= len(tail.pop(0))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    timed_out = cancelled = False
    while True:
        try:
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        if time.monotonic() >= deadline:
            timed_out = True
            break
    _kill_group(proc)
    proc.wait()
    thread.join(timeout=2.0)
    if proc.stdout is not None:
        proc.stdout.close()
    raw = b"".join(chunks)
    if dropped:
        raw += f"\n[... {dropped} bytes dropped ...]\n".encode()
    raw += b"".join(tail)
    text = raw.decode("utf-8", errors="replace")
    text, truncated = cap_output(text, max_output_chars)
    exit_code = None if (timed_out or cancelled) else proc.returncode
    return CommandResult(
        exit_code=exit_code,
        output=text,
        timed_out=timed_out,
        cancelled=cancelled,
        truncated=truncated or bool(dropped),
    )

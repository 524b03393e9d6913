"""Hook processes: stdin, parallel runs, caps, timeouts that kill the whole group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ketch.ext.hooks.config import HookCommand
from ketch.ext.hooks.runner import MAX_STDOUT, run_all, run_one


def hook(command: str, timeout: float = 10) -> HookCommand:
    return HookCommand("PreToolUse", "", command, timeout, "s.json", "user")


def test_stdin_reaches_the_hook_and_its_exit_code_and_outputs_come_back(tmp_path: Path) -> None:
    done = run_one(hook(f"{sys.executable} -c \"import sys; d=sys.stdin.read(); print(d); "
                        "print('err', file=sys.stderr); sys.exit(3)\""), b'{"a": 1}', tmp_path, dict(os.environ))
    assert (done.exit_code, done.stdout.strip(), done.stderr.strip()) == (3, '{"a": 1}', "err")


def test_a_large_payload_to_a_hook_that_never_reads_it_does_not_hang(tmp_path: Path) -> None:
    done = run_one(hook("echo ok"), b"x" * 2_000_000, tmp_path, dict(os.environ))
    assert done.exit_code == 0 and done.stdout == "ok\n"


def test_output_is_capped(tmp_path: Path) -> None:
    done = run_one(hook(f"{sys.executable} -c \"print('y' * 3_000_000)\""), b"", tmp_path, dict(os.environ))
    assert done.exit_code == 0 and len(done.stdout) == MAX_STDOUT


def test_a_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    done = run_one(hook(f"sleep 30 & echo $! > {pidfile}; wait", timeout=0.5), b"", tmp_path, dict(os.environ))
    assert done.timed_out and done.exit_code is None
    child = int(pidfile.read_text())
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()


def test_hooks_run_in_parallel(tmp_path: Path) -> None:
    barrier = tmp_path / "fifo"
    os.mkfifo(barrier)
    # Each needs the other: the writer blocks until the reader opens the fifo, and the reverse.
    writer, reader = hook(f"echo hi > {barrier}", timeout=20), hook(f"cat {barrier}", timeout=20)
    t0 = time.monotonic()
    done = run_all([writer, reader], b"", tmp_path, dict(os.environ))
    assert [d.exit_code for d in done] == [0, 0] and done[1].stdout == "hi\n"
    assert time.monotonic() - t0 < 15

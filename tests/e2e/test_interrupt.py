"""Ctrl-C in a headless run: said at once, out promptly, nothing of the command left running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from harness import TEST_ANTHROPIC_KEY, ketch_argv

# A sleep nobody else runs, so the processes it leaves can be told apart from everyone else's.
MARKER = "29.4817"
EXIT_BOUND_S = 4.0  # correctness limit: the old code waited 5 s for a tree it had not killed


def _processes_with(marker: str) -> list[int]:
    """Live processes whose argv mentions the marker (bwrap's argv holds the whole command)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read()
        except OSError:
            continue
        if marker.encode() in argv:
            found.append(int(entry))
    return found


def _sleep_running(marker: str) -> bool:
    for pid in _processes_with(marker):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                    return True
        except OSError:
            pass
    return False


def _poll(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_sigint_during_a_sandboxed_command_exits_at_once_and_kills_the_tree(server, ketch_home: Path,
                                                                           workspace: Path):
    fake = server([{"tool_calls": [{"name": "Bash", "input": {"command": f"sleep {MARKER}"}}]},
                   {"text": "never asked"}])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env.update({"KETCH_HOME": str(ketch_home), "ANTHROPIC_BASE_URL": fake.url,
                "ANTHROPIC_API_KEY": TEST_ANTHROPIC_KEY, "NO_COLOR": "1"})
    proc = subprocess.Popen(
        ketch_argv() + ["--model", "claude-sonnet-4-5", "-p", "wait a while", "--allowedTools", "Bash(sleep:*)"],
        cwd=workspace, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _poll(lambda: _sleep_running(MARKER), 30), "the sandboxed sleep never started"
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupting" in err
    assert took < EXIT_BOUND_S, f"ketch took {took:.1f}s to exit after Ctrl-C"
    assert _poll(lambda: not _processes_with(MARKER), 5), f"left running: {_processes_with(MARKER)}"
    assert len(fake.requests) == 1

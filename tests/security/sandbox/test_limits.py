"""Sandbox limits and process lifetime, against the real bubblewrap.

Every command's whole process tree dies when the command ends, times out, is cancelled,
or ketch itself dies; fork bombs, huge allocations, huge files and output floods stay
bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sandbox_kit import host_processes, make, sh

from ketch.security.sandbox.bwrap import SandboxLimits
from ketch.security.sandbox.limits import find_parents
from ketch.security.sandbox.runtime import runtime_parent as _runtime_parent


def _wait_gone(needle: str, within_s: float = 3.0) -> list[str]:
    deadline = time.monotonic() + within_s
    while (left := host_processes(needle)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_fork_bomb_stays_bounded(ws: Path, home: Path) -> None:
    sb = make(ws, home, limits=SandboxLimits(processes=64))
    report = sb.enforcement().processes
    assert "NOT ENFORCED" not in report, f"refusing to run a fork bomb without a process limit: {report}"
    t0 = time.monotonic()
    result = sh(sb, ":(){ :|:& };:; sleep 2; echo survived", timeout=8)
    assert time.monotonic() - t0 < 12
    assert "Resource temporarily unavailable" in result.output or "retry" in result.output
    assert _wait_gone(":|:") == []


def test_large_allocation_fails(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), f"{sys.executable} -c 'b = bytearray(2 * 1024**3); print(\"ALLOCATED\")'")
    assert "MemoryError" in result.output and "ALLOCATED" not in result.output


def test_file_size_limit(ws: Path, home: Path) -> None:
    sb = make(ws, home, limits=SandboxLimits(file_size_bytes=1 << 20))
    result = sh(sb, "head -c 3000000 /dev/zero > big; echo rc=$?")
    assert "File too large" in result.output or "rc=153" in result.output
    assert (ws / "big").stat().st_size <= 1 << 20


def test_output_flood_is_capped(ws: Path, home: Path) -> None:
    result = make(ws, home)(["bash", "-c", "yes flood"], cwd=ws, timeout_s=1.5, max_output_chars=5000)
    assert result.timed_out and result.truncated
    assert len(result.output) < 6000 and "cut from the middle" in result.output


def test_background_processes_die_with_the_command(ws: Path, home: Path) -> None:
    t0 = time.monotonic()
    result = sh(make(ws, home), "sleep 100.321 & setsid nohup sleep 100.322 >/dev/null 2>&1 & echo started")
    assert result.exit_code == 0 and "started" in result.output
    assert time.monotonic() - t0 < 5
    assert _wait_gone("sleep 100.32") == []


def test_timeout_kills_the_tree(ws: Path, home: Path) -> None:
    result = sh(make(ws, home), "sleep 100.41 & sleep 100.42", timeout=1)
    assert result.timed_out and result.exit_code is None
    assert _wait_gone("sleep 100.4") == []


def test_cancel_kills_the_tree(ws: Path, home: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    result = sh(make(ws, home), "sleep 100.51 & sleep 100.52", timeout=30, cancel=cancel)
    assert result.cancelled and time.monotonic() - t0 < 5
    assert _wait_gone("sleep 100.5") == []


def test_tree_dies_with_ketch(ws: Path, home: Path) -> None:
    script = textwrap.dedent(f"""
        from pathlib import Path
        from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy
        sb = Sandbox(SandboxPolicy(workspace=Path({str(ws)!r}), home=Path({str(home)!r})))
        sb(["bash", "-c", "sleep 100.61 & sleep 100.62"], cwd=Path({str(ws)!r}), timeout_s=60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 10
    while not host_processes("sleep 100.62") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host_processes("sleep 100.62"), "the sandboxed command never started"
    assert list(ws.iterdir()) == []  # no placeholder shows in the user's tree while the command runs
    parent.kill()
    parent.wait()
    assert _wait_gone("sleep 100.6") == []
    # What a command wrote at a protected path as ketch died (before ketch could look):
    (ws / ".mcp.json").write_text('{"mcpServers": {"x": {"command": "evil"}}}')
    # The next ketch moves it out, says so in its first result, and removes the dead one's folder.
    result = sh(make(ws, home), "true")
    assert list(ws.iterdir()) == []
    assert ".mcp.json was created by a command that ran when ketch was killed" in result.output
    assert not list(Path(_runtime_parent()).glob(f"ketch-{parent.pid}-*"))


def test_wall_time_ceiling_from_policy(ws: Path, home: Path) -> None:
    sb = make(ws, home, limits=SandboxLimits(wall_s=0.5))
    assert sh(sb, "sleep 5", timeout=60).timed_out


@pytest.mark.skipif(os.geteuid() == 0, reason="RLIMIT_NPROC never binds root; the cgroup test above covers root")
def test_process_limit_counts_only_the_sandbox(ws: Path, home: Path) -> None:
    sb = make(ws, home, limits=SandboxLimits(processes=32))
    result = sh(sb, "for i in $(seq 10); do sleep 1 & done; wait; echo ok")
    assert "ok" in result.output and "Resource temporarily unavailable" not in result.output


def test_cgroup_v1_groups_go_under_ketchs_own() -> None:
    mountinfo = (
        "36 35 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "37 35 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "38 35 0:33 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    )
    parents, v2, _ = find_parents("8:pids:/\n4:memory:/a/b\n0::/\n", mountinfo)
    assert not v2
    assert parents == {"pids": Path("/sys/fs/cgroup/pids"), "memory": Path("/sys/fs/cgroup/memory/a/b")}


def test_cgroup_v2_groups_go_beside_ketchs_own(tmp_path: Path) -> None:
    (tmp_path / "user.slice" / "session-1.scope").mkdir(parents=True)
    (tmp_path / "user.slice" / "cgroup.subtree_control").write_text("cpu memory pids\n")
    mountinfo = f"30 25 0:26 / {tmp_path} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    parents, v2, _ = find_parents("0::/user.slice/session-1.scope\n", mountinfo)
    assert v2 and parents == {"pids": tmp_path / "user.slice"}
    (tmp_path / "user.slice" / "cgroup.subtree_control").write_text("cpu memory\n")
    assert find_parents("0::/user.slice/session-1.scope\n", mountinfo)[0] == {}

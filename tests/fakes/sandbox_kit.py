"""A Sandbox over a test workspace and home, a shell command inside it, host processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy
from ketch.tools.base import CommandResult


def make(ws: Path, home: Path, **kw: object) -> Sandbox:
    return Sandbox(SandboxPolicy(workspace=ws, home=home, ketch_home=home / ".ketch", **kw))  # type: ignore[arg-type]


def sh(sb: Sandbox, command: str, cwd: Path | None = None, timeout: float = 20, **kw: object) -> CommandResult:
    assert sb.policy.workspace is not None
    return sb(["bash", "-c", command], cwd=cwd or sb.policy.workspace, timeout_s=timeout, **kw)  # type: ignore[arg-type]


def host_processes(needle: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if needle in line and "ps -eo" not in line]

"""The runner contract: how a tool asks for a command to be run, and what comes back.

It lives with the sandbox (the thing that implements it) so that the Guard never imports the
Tools; tools import it from here (tools.base re-exports it for them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class CommandRunner(Protocol):
    def __call__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        timeout_s: float,
        cancel: threading.Event | None = None,
        max_output_chars: int = 30000,
    ) -> CommandResult:
        ...


@dataclass
class CommandResult:
    exit_code: int | None
    output: str
    timed_out: bool = False
    cancelled: bool = False
    truncated: bool = False


def read_only_runner(runner: CommandRunner) -> CommandRunner:
    """The runner's read-only view (nothing writable) when it has one, for programs like rg."""
    view = getattr(runner, "read_only", None)
    return view() if callable(view) else runner

"""What a tool is: a definition the model sees, a kind the permission gate reads, and run().

Tools know nothing of providers or the UI. Every subprocess a tool starts goes through
`ctx.runner` (security.sandbox), never through `subprocess` directly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ketch.conversation import ToolDef
from ketch.errors import ToolError

# The runner contract belongs to the sandbox (Guard); tools use it, so it is importable from here too.
from ketch.security.sandbox.base import CommandResult, CommandRunner, read_only_runner

__all__ = [
    "CommandResult",
    "CommandRunner",
    "SessionState",
    "TargetsPaths",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolKind",
    "ToolResult",
    "ToolSource",
    "load_definition",
    "read_only_runner",
]

ToolKind = Literal["read", "edit", "execute", "other"]


@dataclass
class ToolResult:
    content: str
    is_error: bool = False


@dataclass
class SessionState:
    """What tools remember between calls within one session.

    `read_files` maps canonical paths to the mtime_ns seen when the model last read or
    wrote them: Write and Edit refuse files the model has not seen, or that changed since.
    """

    read_files: dict[str, int] = field(default_factory=dict)
    bash_cwd: Path | None = None
    todos: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Small local models give up when told to read first; for them an exact old_string suffices.
    edit_requires_read: bool = True
    # The small-model profile keeps test files out of the model's reach (tools.tests_rule) unless
    # the request that started the run is about tests; the loop decides that at each run's start.
    tests_are_evidence: bool = False
    request_about_tests: bool = False
    # The next model request's sampling temperature; None: the provider's default. The small-model
    # profile samples greedily (0.0), and higher after a refused call was repeated (agent/verify/refusals.py).
    temperature: float | None = None
    # The tool the next model reply must call (ModelRequest.tool_choice), for one reply; None: any.
    tool_choice: str | None = None
    choice_paths: tuple[str, ...] = ()  # ModelRequest.choice_paths, with tool_choice
    file_blocks: bool = True  # ModelRequest.file_blocks: the run asks for a change

    def start_request(self, prompt: str) -> None:
        """A run starts with `prompt`: decide, once, what depends on what the user asked."""
        if self.tests_are_evidence:  # the only rule that asks, so other runs never load it
            from ketch.tools.tests_rule import about_tests

            self.request_about_tests = about_tests(prompt)

    def fresh(self) -> SessionState:
        """A new conversation's state: nothing seen or remembered, the same profile rules."""
        return SessionState(edit_requires_read=self.edit_requires_read, tests_are_evidence=self.tests_are_evidence)


@dataclass
class ToolContext:
    workspace: Path
    state: SessionState
    runner: CommandRunner
    cancel: threading.Event = field(default_factory=threading.Event)
    emit: Callable[[object], None] = lambda event: None
    # The gate's checks, run again at execution time on the path a tool actually opened
    # (tools.target): raises ToolError when it is not the path that was approved, or is
    # protected or a credential store (for kind "read", also denied by a Read rule). The agent loop sets it for
    # every call it runs.
    check_opened: Callable[[str, Path], None] = lambda kind, path: None
    call_id: str = ""  # the tool_use id of the call being run (a subagent's events are nested under it)


class Tool(Protocol):
    name: str
    kind: ToolKind

    def definition(self) -> ToolDef:
        ...

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        ...


class ToolSource(Protocol):
    """Tools that come and go during a session (MCP servers joining, a schema loaded on demand).

    The loop asks before every request: `offered()` are the tools whose definitions go with
    it; `find(name)` any tool the source can run now (offered or not: a tool loaded by
    ToolSearch in this turn); `status()` a line for the system prompt ("" when all is well),
    e.g. which servers are still starting or failed.
    """

    def offered(self) -> list[Tool]:
        ...

    def find(self, name: str) -> Tool | None:
        ...

    def status(self) -> str:
        ...

    def server_states(self) -> list[dict[str, str]]:
        """Each server behind the source, `{"name", "status"}` (stream-json's `mcp_servers`)."""
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class RepairsInput(Protocol):
    """A Tool that undoes a small model's known slips in a call's input (localmodels/small_tools.py).
    The loop asks it before PreToolUse hooks, the gate and the approval preview see the call, so what
    they judge is what runs. `may_read`: whether ketch may look at a file to decide a repair."""

    def repair_input(self, input: dict[str, Any], ctx: ToolContext,
                     may_read: Callable[[Path], bool]) -> dict[str, Any]:
        ...


@runtime_checkable
class TargetsPaths(Protocol):
    """A Tool that names the files a call will touch itself (Write, Edit, MultiEdit). The gate
    checks exactly these paths and the tool may open only them; for other tools the loop takes
    the call's `file_path` or `path` argument, resolved as `tools.paths.resolve` does."""

    def paths(self, input: dict[str, Any], ctx: ToolContext) -> list[Path]:
        ...


@cache
def load_definition(name: str) -> ToolDef:
    """Read a tool's face from package data: `data/<name>.json` (schema) and `.md` (description)."""
    data = resources.files("ketch.tools") / "data"
    schema = json.loads((data / f"{name}.json").read_text(encoding="utf-8"))
    description = (data / f"{name}.md").read_text(encoding="utf-8").strip()
    return ToolDef(name=name, description=description, input_schema=schema)

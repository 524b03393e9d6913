"""`Dispatch.call`: one call outside a turn (`ketch mcp serve`), on the same path as a turn's calls."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ketch.agent import events as ev
from ketch.agent.loop import Agent, AgentConfig
from ketch.agent.permissions import PermissionGate
from ketch.conversation import ToolUseBlock
from ketch.errors import ToolError
from ketch.tools.base import ToolResult, load_definition


class Recorder:
    """An edit tool that keeps the context it ran with and answers with a secret and a long tail."""

    name, kind = "Write", "edit"

    def __init__(self) -> None:
        self.contexts: list[Any] = []

    def definition(self):
        return load_definition("Write")

    def paths(self, tool_input: dict, ctx: Any) -> list[Path]:
        return [ctx.workspace / tool_input["file_path"]]

    def run(self, tool_input: dict, ctx: Any) -> ToolResult:
        self.contexts.append(ctx)
        return ToolResult("token sk-live-0123456789abcdef " + "x" * 500)


def make_agent(tmp_path: Path, mode: str, approver: Any) -> tuple[Agent, Recorder]:
    tool = Recorder()
    gate = PermissionGate(mode=mode, allow=[], deny=[], workspace=tmp_path)
    config = AgentConfig(model="none", provider_name="none", system_prompt="", workspace=tmp_path, gate=gate,
                         tool_result_chars=200, outputs_dir=tmp_path / "outputs")
    agent = Agent(provider=None, tools=[tool], config=config, session_id="s1", approver=approver,  # type: ignore[arg-type]
                  redact=lambda text: text.replace("sk-live-0123456789abcdef", "[REDACTED]"))
    return agent, tool


def test_a_call_runs_with_its_own_cancel_and_is_redacted_and_trimmed(tmp_path: Path):
    agent, tool = make_agent(tmp_path, "acceptEdits", lambda request: True)
    cancel = threading.Event()
    block = agent.dispatch.call(ToolUseBlock("c1", "Write", {"file_path": "a.txt", "content": "x"}), cancel)
    assert not block.is_error
    ctx = tool.contexts[0]
    assert ctx.cancel is cancel and ctx.cancel is not agent.cancel
    assert "[REDACTED]" in block.content and "sk-live" not in block.content
    assert "cut from the middle" in block.content and (tmp_path / "outputs" / "c1.txt").exists()
    ctx.check_opened("edit", tmp_path / "a.txt")  # the checked path may be opened...
    with pytest.raises(ToolError, match="not the path that was checked"):
        ctx.check_opened("edit", tmp_path / "b.txt")  # ...no other


def test_what_would_ask_goes_to_the_approver_and_a_refusal_runs_nothing(tmp_path: Path):
    asked: list[ev.PermissionRequest] = []

    def refuse(request: ev.PermissionRequest) -> bool:
        asked.append(request)
        return False

    agent, tool = make_agent(tmp_path, "default", refuse)
    block = agent.dispatch.call(ToolUseBlock("c2", "Write", {"file_path": "a.txt", "content": "x"}),
                                threading.Event())
    assert block.is_error and "permission denied" in block.content
    assert [r.tool_use_id for r in asked] == ["c2"] and tool.contexts == []
    invalid = agent.dispatch.call(ToolUseBlock("c3", "Write", {"file_path": 3}), threading.Event())
    assert invalid.is_error and "invalid arguments" in invalid.content

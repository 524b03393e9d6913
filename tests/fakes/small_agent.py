"""An Agent wired as the small-model profile wires it, for unit-level attacks on one seam: the real
PermissionGate, Dispatch and file tools wrapped as small tools, no model (calls are made directly)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ketch.agent.loop import Agent, AgentConfig
from ketch.agent.permissions import PermissionGate, parse_rules
from ketch.conversation import ToolUseBlock
from ketch.localmodels.small_tools import small_tools
from ketch.tools.edit import EditTool
from ketch.tools.read import ReadTool
from ketch.tools.write import WriteTool


def small_agent(ws: Path, mode: str = "acceptEdits", deny: tuple[str, ...] = (), approver: Any = None) -> Agent:
    """Small tools, edits without a prior Read, tests as evidence, protected files as the CLI wires them
    (cli/tool_wiring.py, with a home beside `ws`); `approver` answers questions (default: yes)."""
    from ketch.security.protected import LazyProtectedSet

    home = ws.parent / "home"
    gate = PermissionGate(mode=mode, allow=[], deny=parse_rules(list(deny)), workspace=ws,
                          protected=LazyProtectedSet([ws], home, home / ".ketch"), home=home)
    config = AgentConfig(model="none", provider_name="none", system_prompt="", workspace=ws, gate=gate,
                         outputs_dir=ws.parent / "outputs")
    agent = Agent(provider=None, tools=small_tools([ReadTool(), EditTool(), WriteTool()]), config=config,  # type: ignore[arg-type]
                  session_id="s1", approver=approver or (lambda request: True), redact=lambda text: text)
    agent.state.edit_requires_read = False
    agent.state.tests_are_evidence = True
    return agent


def dispatch_call(agent: Agent, name: str, **tool_input: Any) -> Any:
    """One call through the agent's whole dispatch (repairs, hooks, gate, approval, the tool)."""
    return agent.dispatch.call(ToolUseBlock("c1", name, tool_input), threading.Event())

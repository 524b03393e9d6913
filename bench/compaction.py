"""Size of the request before and after compaction: `python bench/compaction.py`.

Builds a 200-turn session in process (each turn a Read of a ~6 kB file and its result),
compacts it with a scripted model that returns a fixed ~1.5 kB summary, and prints the
Anthropic wire size of the next request before and after, as a Markdown table.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ketch.agent.loop import Agent, AgentConfig
from ketch.agent.permissions import PermissionGate
from ketch.conversation import Message, ModelRequest, TextBlock, ToolResultBlock, ToolUseBlock, Usage
from ketch.providers.anthropic import build_body
from ketch.providers.base import Completed
from ketch.tools.registry import default_tools

TURNS = 200
SUMMARY = ("## Task\nRefactor the parser.\n## Decisions\n" + "- kept the public API stable\n" * 40)[:1500]


class SummaryModel:
    name = "scripted"

    def stream(self, request: ModelRequest) -> Iterator[Any]:
        yield Completed(Message("assistant", [TextBlock(SUMMARY)]), Usage(1000, 400), "end_turn")

    def close(self) -> None:
        pass


def wire_bytes(agent: Agent) -> int:
    request = ModelRequest(model="claude-sonnet-4-5", system=agent.config.system_prompt, messages=agent.messages,
                           tools=[t.definition() for t in agent.tools])
    return len(json.dumps(build_body(request)).encode())


def main() -> None:
    with tempfile.TemporaryDirectory() as ws:
        gate = PermissionGate(mode="default", allow=[], deny=[], workspace=Path(ws))
        config = AgentConfig(model="claude-sonnet-4-5", provider_name="anthropic", system_prompt="You are ketch.",
                             workspace=Path(ws), gate=gate)
        agent = Agent(provider=SummaryModel(), tools=default_tools(), config=config, session_id="bench")
        agent.instructions.append("Refactor the parser; keep the public API stable.")
        agent.messages.append(Message("user", [TextBlock(agent.instructions[0])]))
        for i in range(TURNS):
            agent.messages.append(Message("assistant", [ToolUseBlock(f"t{i}", "Read", {"file_path": f"src/m{i}.py"})]))
            agent.messages.append(Message("user", [ToolResultBlock(f"t{i}", f"{i:>6}\tdef f(): pass  # padding\n" * 200)]))
        before = wire_bytes(agent)
        list(agent.compact(reason="bench"))
        after = wire_bytes(agent)
    print(f"{TURNS} turns, Anthropic wire format")
    print("| request | bytes |\n|---|---|")
    print(f"| before compaction | {before:,} |\n| after compaction | {after:,} |")


if __name__ == "__main__":
    main()

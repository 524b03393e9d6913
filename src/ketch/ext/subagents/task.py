"""The `Task` tool (Claude Code's name and input): run a child agent, return its final answer.

The child is made by a factory the composition root passes in (cli/subagents.py), so this
module never imports cli: it gets its own conversation, the definition's system prompt, and
the parent's tools narrowed to the definition's list, behind the same permission gate,
sandbox runner and approver. This tool only runs it: it nests the child's events under the
call (`ChildEvent`, so front ends and the transcript can tell them apart), rolls the child's
spend up into the parent's, and lets the parent's interruption cut the child's stream.

Several Task calls of one reply run at once: the tool is `parallel_safe`, so dispatch runs it
in a batch beside reads and passes the children's events on live. It is `changes_files`: a
child may edit, so the parent's turn takes the undo snapshot that covers what children change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Any, Protocol

from ketch.agent import events as ev
from ketch.conversation import ToolDef, Usage
from ketch.ext.subagents.definitions import AgentDefinition
from ketch.tools.base import ToolContext, ToolError, ToolKind, ToolResult

MAX_DEPTH = 2  # the parent is depth 0; a child at this depth gets no Task tool


class ChildAgent(Protocol):
    """What this tool needs of the child the factory made (an agent.loop.Agent)."""

    provider: Any

    def run(self, prompt: str) -> Iterator[Any]:
        ...

    def spent_usd(self) -> float:
        ...

    def total_usage(self) -> Usage:
        ...


class ParentAgent(Protocol):
    """What this tool needs of the agent that offers it."""

    on_interrupt: list[Callable[[], object]]

    def add_child_spend(self, usage: Usage, usd: float) -> None:
        ...


# (definition, the child's depth) -> a ready child agent; raises ToolError when it cannot be made.
ChildFactory = Callable[[AgentDefinition, int], ChildAgent]


class TaskTool:
    name = "Task"
    kind: ToolKind = "other"  # the gate lets it run; every call the child makes meets the gate itself
    parallel_safe = True
    changes_files = True

    def __init__(self, definitions: dict[str, AgentDefinition], factory: ChildFactory, parent: ParentAgent,
                 depth: int, parent_tools: list[str]) -> None:
        self.definitions = definitions
        self.factory = factory
        self.parent = parent
        self.depth = depth
        self.parent_tools = parent_tools
        self._definition: ToolDef | None = None

    def definition(self) -> ToolDef:
        if self._definition is None:
            lines = [f"- {d.name}: {d.description} (Tools: {', '.join(self.tools_of(d)) or 'none'})"
                     for d in self.definitions.values()]
            schema, template = _face()
            self._definition = ToolDef(self.name, template.replace("{agents}", "\n".join(lines)), schema)
        return self._definition

    def tools_of(self, definition: AgentDefinition) -> list[str]:
        return child_tools(definition, self.parent_tools, self.depth + 1)

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        kind = str(input.get("subagent_type", ""))
        definition = self.definitions.get(kind)
        if definition is None:
            raise ToolError(f"unknown subagent_type {kind!r}; available: {', '.join(self.definitions)}")
        if ctx.cancel.is_set():
            raise ToolError("not run: interrupted by the user")
        child = self.factory(definition, self.depth + 1)
        abort = child.provider.abort
        self.parent.on_interrupt.append(abort)
        finished: ev.RunFinished | None = None
        try:
            for event in child.run(str(input.get("prompt", ""))):
                ctx.emit(ev.ChildEvent(ctx.call_id, definition.name, event))
                if isinstance(event, ev.RunFinished):
                    finished = event
        finally:
            self.parent.on_interrupt.remove(abort)
            self.parent.add_child_spend(child.total_usage(), child.spent_usd())
            child.provider.close()
        if finished is None:
            raise ToolError(f"agent {definition.name} ended without an answer")
        usage = finished.usage
        tokens_in = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        turns = f"{finished.num_turns} turn{'s' if finished.num_turns != 1 else ''}"
        footer = f"\n\n[agent {definition.name}: {turns}, {tokens_in} tokens in, {usage.output_tokens} out]"
        if finished.is_error:
            return ToolResult(f"agent {definition.name} stopped ({finished.subtype}): {finished.result}{footer}",
                              is_error=True)
        return ToolResult((finished.result or "(the agent gave no answer)") + footer)


def child_tools(definition: AgentDefinition, parent_tools: list[str], depth: int) -> list[str]:
    """The tools of a child at `depth`: the definition's list within its parent's (never more);
    all the parent's but Task when it lists none; Task only when listed and above the depth limit."""
    names = [n for n in parent_tools if (n != "Task" if definition.tools is None else n in definition.tools)]
    return [n for n in names if n != "Task" or depth < MAX_DEPTH]


@cache
def _face() -> tuple[dict[str, Any], str]:
    import json

    data = resources.files("ketch.ext.subagents") / "data"
    return json.loads((data / "Task.json").read_text(encoding="utf-8")), (data / "Task.md").read_text("utf-8").strip()

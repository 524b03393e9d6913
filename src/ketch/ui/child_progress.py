"""A subagent's progress in the REPL: one short line per tool call it makes, under its Task call.

The children of one reply run at once, so their lines interleave; each line names its agent.
Everything else a child does (its text, its results) stays out of the scrollback: the parent
shows the child's answer as the Task call's result.
"""

from __future__ import annotations

from typing import Any

from ketch.agent import events as ev
from ketch.terminal_text import printable as clean


def child_line(event: ev.ChildEvent, key_arg: Any) -> str | None:
    """The line to show for a child's event, or None. `key_arg(ToolCall)` gives the call's argument."""
    names = [event.agent_name]
    inner = event.event
    while isinstance(inner, ev.ChildEvent):  # a grandchild: `outer › inner`
        names.append(inner.agent_name)
        inner = inner.event
    who = " › ".join(clean(n) for n in names)
    if isinstance(inner, ev.ToolCall):
        arg = key_arg(inner)
        return f"  ⎿ {who}: {clean(inner.name)}" + (f"({clean(arg)})" if arg else "")
    if isinstance(inner, ev.PermissionDecision) and not inner.allowed:
        return f"  ⎿ {who}: {clean(inner.tool_name)} refused"
    if isinstance(inner, ev.RunFinished):
        how = "done" if not inner.is_error else inner.subtype
        return f"  ⎿ {who}: {how} ({inner.num_turns} turn{'s' if inner.num_turns != 1 else ''})"
    return None

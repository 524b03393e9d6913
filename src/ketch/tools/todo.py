"""TodoWrite: the model's visible task list.

The list lives in the session state, and every change is announced as an event, so a
front end can draw it without knowing this tool exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ketch.conversation import ToolDef
from ketch.tools.base import ToolContext, ToolKind, ToolResult, load_definition
from ketch.tools.validate import require_valid

STATUSES = ("pending", "in_progress", "completed")


@dataclass
class TodosChanged:
    """Event: the todo list is now `todos` (each {"content", "status", "activeForm"})."""

    todos: list[dict[str, str]] = field(default_factory=list)


def _summary(todos: list[dict[str, str]]) -> str:
    if not todos:
        return "Todo list cleared."
    counts = {status: sum(1 for t in todos if t["status"] == status) for status in STATUSES}
    text = (
        f"Todo list updated: {counts['completed']} completed, {counts['in_progress']} in progress, "
        f"{counts['pending']} pending."
    )
    current = [t["content"] for t in todos if t["status"] == "in_progress"]
    if current:
        text += " Now: " + "; ".join(current) + "."
    return text + " Keep it current as you work."


class TodoWriteTool:
    name = "TodoWrite"
    kind: ToolKind = "other"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        # The schema's enum rejects unknown statuses with a message naming the item.
        require_valid(self.name, self.definition().input_schema, input)
        todos = [
            {"content": item["content"], "status": item["status"], "activeForm": item["activeForm"]}
            for item in input["todos"]
        ]
        with ctx.state.lock:
            ctx.state.todos = todos
        ctx.emit(TodosChanged(todos=[dict(t) for t in todos]))
        return ToolResult(_summary(todos))

"""TodoWrite: replaces the list, announces it, validates statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.todo import TodosChanged, TodoWriteTool


def make_ctx(workspace: Path, events: list[object]) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run, emit=events.append)


def test_replaces_list_and_emits_event(tmp_path: Path) -> None:
    events: list[object] = []
    ctx = make_ctx(tmp_path, events)
    first = [
        {"content": "Write tests", "status": "completed", "activeForm": "Writing tests"},
        {"content": "Fix bug", "status": "in_progress", "activeForm": "Fixing bug"},
        {"content": "Ship", "status": "pending", "activeForm": "Shipping", "priority": "high"},
    ]
    result = TodoWriteTool().run({"todos": first}, ctx)
    assert not result.is_error
    assert "1 completed, 1 in progress, 1 pending" in result.content and "Fix bug" in result.content
    assert ctx.state.todos == [{k: t[k] for k in ("content", "status", "activeForm")} for t in first]
    assert events == [TodosChanged(todos=ctx.state.todos)]
    assert events[0].todos is not ctx.state.todos  # type: ignore[attr-defined]

    TodoWriteTool().run({"todos": [first[2]]}, ctx)
    assert [t["content"] for t in ctx.state.todos] == ["Ship"]
    assert len(events) == 2


def test_empty_list_clears(tmp_path: Path) -> None:
    events: list[object] = []
    ctx = make_ctx(tmp_path, events)
    assert "cleared" in TodoWriteTool().run({"todos": []}, ctx).content
    assert ctx.state.todos == [] and events == [TodosChanged(todos=[])]


@pytest.mark.parametrize(
    "todo, field",
    [
        ({"content": "a", "status": "done", "activeForm": "A"}, "todos[0].status"),
        ({"content": "", "status": "pending", "activeForm": "A"}, "todos[0].content"),
        ({"content": "a", "status": "pending"}, "todos[0].activeForm"),
    ],
)
def test_invalid_items_are_refused_without_change(tmp_path: Path, todo: dict[str, str], field: str) -> None:
    events: list[object] = []
    ctx = make_ctx(tmp_path, events)
    with pytest.raises(ToolError, match=field.replace("[", r"\[").replace("]", r"\]")):
        TodoWriteTool().run({"todos": [todo]}, ctx)
    assert ctx.state.todos == [] and events == []

"""A subagent's progress line in the REPL: its tool calls, a refusal, its end; nested names; escaped."""

from __future__ import annotations

from ketch.agent import events as ev
from ketch.conversation import Usage
from ketch.ui.child_progress import child_line


def _arg(call: ev.ToolCall) -> str:
    return str(call.input.get("file_path", ""))


def test_tool_calls_refusals_and_the_end_each_get_one_line() -> None:
    call = ev.ChildEvent("t1", "Explore", ev.ToolCall("c1", "Read", {"file_path": "src/a.py"}))
    assert child_line(call, _arg) == "  ⎿ Explore: Read(src/a.py)"
    refused = ev.ChildEvent("t1", "Explore", ev.PermissionDecision("c2", "Bash", False, "no", "headless"))
    assert child_line(refused, _arg) == "  ⎿ Explore: Bash refused"
    done = ev.RunFinished("success", "ok", "s", 3, 1, 1, 0.0, Usage())
    assert child_line(ev.ChildEvent("t1", "Explore", done), _arg) == "  ⎿ Explore: done (3 turns)"
    assert child_line(ev.ChildEvent("t1", "Explore", ev.TextDelta("hi")), _arg) is None


def test_a_grandchild_names_its_chain_and_control_bytes_are_escaped() -> None:
    inner = ev.ChildEvent("t2", "b\x1b[31m", ev.ToolCall("c1", "Grep", {}))
    line = child_line(ev.ChildEvent("t1", "a", inner), _arg)
    assert line is not None and line.startswith("  ⎿ a › b") and "\x1b" not in line

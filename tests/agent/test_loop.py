"""The agent loop in process, with a scripted provider: ordering, concurrency, events."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scripted import ScriptedProvider

from ketch.agent import events as ev
from ketch.agent.loop import Agent, AgentConfig
from ketch.agent.permissions import PermissionGate
from ketch.conversation import Message, TextBlock, ToolUseBlock, Usage
from ketch.providers.base import Completed, ProviderError, Retrying, TextChunk
from ketch.tools.base import ToolResult, load_definition


def answer(*blocks: Any, usage: Usage | None = None) -> list[Any]:
    message = Message("assistant", list(blocks))
    stop = "tool_use" if message.tool_uses() else "end_turn"
    return [Completed(message, usage or Usage(10, 5), stop, "m", "msg")]


class SlowRead:
    """A read-only tool that records how many calls overlap in time."""

    name, kind = "Read", "read"

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def definition(self):
        return load_definition("Read")

    def run(self, tool_input: dict, ctx: Any) -> ToolResult:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.2)
        with self.lock:
            self.active -= 1
        return ToolResult(f"read {tool_input['file_path']}")


def make_agent(provider: ScriptedProvider, tools: list, tmp_path: Path, mode: str = "default", **kw) -> Agent:
    gate = PermissionGate(mode=mode, allow=[], deny=[], workspace=tmp_path)
    config = AgentConfig(model="m", provider_name="scripted", system_prompt="sys", workspace=tmp_path, gate=gate, **kw)
    return Agent(provider=provider, tools=tools, config=config, session_id="s1", cost_fn=lambda u: u.input_tokens * 1e-6)


def test_independent_reads_run_concurrently_and_results_keep_call_order(tmp_path: Path):
    reads = [ToolUseBlock(f"t{i}", "Read", {"file_path": f"f{i}"}) for i in range(4)]
    provider = ScriptedProvider([answer(*reads), answer(TextBlock("done"))])
    tool = SlowRead()
    events = list(make_agent(provider, [tool], tmp_path).run("go"))
    assert tool.peak >= 2
    results = next(e for e in events if isinstance(e, ev.ToolResults)).message.content
    assert [r.tool_use_id for r in results] == ["t0", "t1", "t2", "t3"]
    assert results[2].content == "read f2"
    final = events[-1]
    assert isinstance(final, ev.RunFinished) and final.subtype == "success" and final.result == "done"
    assert final.num_turns == 2 and final.usage.input_tokens == 20 and final.cost_usd == pytest.approx(20e-6)


def test_retry_events_and_deltas_pass_through(tmp_path: Path):
    provider = ScriptedProvider([[Retrying(1, 0.0, "HTTP 529"), TextChunk("he"), TextChunk("llo"),
                                  *answer(TextBlock("hello"))]])
    events = list(make_agent(provider, [], tmp_path).run("hi"))
    kinds = [type(e).__name__ for e in events]
    assert kinds[:4] == ["UserPrompt", "Retry", "TextDelta", "TextDelta"]
    assert events[-1].result == "hello"


def test_provider_error_ends_the_run_with_error_subtype(tmp_path: Path):
    provider = ScriptedProvider([ProviderError("bad key", kind="auth", status=401)])
    events = list(make_agent(provider, [], tmp_path).run("hi"))
    assert isinstance(events[-2], ev.Error) and events[-2].kind == "auth"
    assert events[-1].subtype == "error_during_execution" and events[-1].is_error


def test_interactive_approver_is_asked_and_its_answer_kept(tmp_path: Path):
    from ketch.tools.registry import tool_by_name

    write = tool_by_name("Write")
    provider = ScriptedProvider([
        answer(ToolUseBlock("w1", "Write", {"file_path": "a.txt", "content": "A"}),
               ToolUseBlock("w2", "Write", {"file_path": "b.txt", "content": "B"})),
        answer(TextBlock("ok")),
    ])
    asked: list[str] = []
    agent = make_agent(provider, [write], tmp_path)
    agent.approver = lambda req: asked.append(req.tool_use_id) or req.tool_use_id == "w1"
    events = list(agent.run("write"))
    assert asked == ["w1", "w2"]
    assert (tmp_path / "a.txt").read_text() == "A" and not (tmp_path / "b.txt").exists()
    decisions = [(e.tool_use_id, e.allowed, e.source) for e in events if isinstance(e, ev.PermissionDecision)]
    assert decisions == [("w1", True, "user"), ("w2", False, "user")]
    assert [d.tool_use_id for d in events[-1].permission_denials] == ["w2"]


def test_todowrite_emits_a_todo_event(tmp_path: Path):
    from ketch.tools.registry import tool_by_name
    from ketch.tools.todo import TodosChanged

    todos = [{"content": "fix bug", "status": "in_progress", "activeForm": "Fixing bug"}]
    provider = ScriptedProvider([answer(ToolUseBlock("t", "TodoWrite", {"todos": todos})), answer(TextBlock("ok"))])
    events = list(make_agent(provider, [tool_by_name("TodoWrite")], tmp_path).run("plan"))
    changed = [e for e in events if isinstance(e, TodosChanged)]
    assert len(changed) == 1 and changed[0].todos[0]["content"] == "fix bug"


def test_tool_crash_becomes_an_error_result_not_a_crash(tmp_path: Path):
    class Broken:
        name, kind = "Read", "read"

        def definition(self):
            return load_definition("Read")

        def run(self, tool_input, ctx):
            raise RuntimeError("boom")

    provider = ScriptedProvider([answer(ToolUseBlock("t", "Read", {"file_path": "x"})), answer(TextBlock("ok"))])
    events = list(make_agent(provider, [Broken()], tmp_path).run("x"))
    result = next(e for e in events if isinstance(e, ev.ToolFinished))
    assert result.is_error and "internal error in Read: RuntimeError: boom" in result.content
    assert events[-1].subtype == "success"


def test_schema_violation_is_reported_to_the_model(tmp_path: Path):
    provider = ScriptedProvider([answer(ToolUseBlock("t", "Read", {"path": "x"})), answer(TextBlock("ok"))])
    events = list(make_agent(provider, [SlowRead()], tmp_path).run("x"))
    result = next(e for e in events if isinstance(e, ev.ToolFinished))
    assert result.is_error and "file_path" in result.content


def test_a_permission_check_that_breaks_refuses_the_call_and_the_run_goes_on(tmp_path: Path):
    """A gate bug on some input (sed '\\' f once raised IndexError) must refuse, not kill the session."""
    from ketch.tools.registry import tool_by_name

    provider = ScriptedProvider([answer(ToolUseBlock("b1", "Bash", {"command": "ls"})), answer(TextBlock("ok"))])
    agent = make_agent(provider, [tool_by_name("Bash")], tmp_path, mode="bypassPermissions")

    def broken(*args, **kwargs):
        raise IndexError("string index out of range")

    agent.config.gate.decide = broken
    events = list(agent.run("list"))
    result = next(e for e in events if isinstance(e, ev.ToolResults)).message.content[0]
    assert result.is_error and "could not decide" in result.content
    assert events[-1].subtype == "success" and events[-1].result == "ok"


def test_a_new_conversation_is_told_a_subfolders_instructions_again(tmp_path: Path):
    from ketch.tools.registry import tool_by_name

    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "AGENTS.md").write_text("Run make svc-test in svc.\n")
    (tmp_path / "svc" / "a.py").write_text("x = 1\n")
    read = ToolUseBlock("r", "Read", {"file_path": str(tmp_path / "svc" / "a.py")})
    provider = ScriptedProvider([answer(read), answer(TextBlock("ok")), answer(read), answer(TextBlock("ok"))])
    agent = make_agent(provider, [tool_by_name("Read")], tmp_path)

    def told(events: list) -> bool:
        result = next(e for e in events if isinstance(e, ev.ToolResults)).message.content[0]
        return "make svc-test" in result.content

    assert told(list(agent.run("read it")))
    agent.reset()  # /clear
    assert told(list(agent.run("read it again")))

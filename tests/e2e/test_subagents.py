"""End-to-end: the Task tool with the real `ketch -p` and the fake model server.

The fake server tells the parent's requests from the children's by their system prompts; each
child's first reply waits for the other child's request to arrive (with a timeout), so the two
children ran concurrently exactly when both waits succeeded: no sleeps, no timing guesses.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from harness import tool_results

from ketch.config.models import cost_usd, model_info
from ketch.conversation import Usage

AGENTS = {
    "alpha": {"description": "Reads files.", "prompt": "You are ALPHA.", "tools": ["Read", "Glob"]},
    "beta": {"description": "Searches.", "prompt": "You are BETA.", "tools": "Grep"},
}
WAIT_S = 20  # only a broken (serial) run waits this long


def _names(body: dict[str, Any]) -> list[str]:
    return sorted(t["name"] for t in body.get("tools", []))


def _system(body: dict[str, Any]) -> str:
    system = body.get("system", "")
    return system if isinstance(system, str) else "".join(b.get("text", "") for b in system)


def _has_results(body: dict[str, Any]) -> bool:
    return bool(tool_results(body, "anthropic"))


class Script:
    """One callable reply for every request: routes by whose request it is."""

    def __init__(self) -> None:
        self.arrived = {"ALPHA": threading.Event(), "BETA": threading.Event()}
        self.overlapped: dict[str, bool] = {}

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        system = _system(body)
        for me, other in (("ALPHA", "BETA"), ("BETA", "ALPHA")):
            if f"You are {me}." not in system:
                continue
            if not _has_results(body):
                self.arrived[me].set()
                self.overlapped[me] = self.arrived[other].wait(WAIT_S)
            if me == "ALPHA" and not _has_results(body):  # a tool alpha's definition lacks
                return {"tool_calls": [{"name": "Bash", "id": "alpha_bash", "input": {"command": "ls"}}],
                        "usage": {"input_tokens": 100}}
            return {"text": f"{me.lower()} done", "usage": {"input_tokens": 100 if me == "ALPHA" else 10}}
        if not _has_results(body):
            return {"tool_calls": [
                {"name": "Task", "id": "task_a", "input": {"description": "read", "prompt": "go A",
                                                           "subagent_type": "alpha"}},
                {"name": "Task", "id": "task_b", "input": {"description": "grep", "prompt": "go B",
                                                           "subagent_type": "beta"}}],
                "usage": {"input_tokens": 1000}}
        return {"text": "both agents answered", "usage": {"input_tokens": 1000}}


def test_two_tasks_run_concurrently_with_their_own_prompts_and_tools(server, run_ketch, ketch_home: Path):
    script = Script()
    fake = server([script])
    fake.repeat_last = True
    run = run_ketch(["-p", "use both agents", "--output-format", "json", "--agents", json.dumps(AGENTS)],
                    server=fake)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["result"] == "both agents answered"
    assert script.overlapped == {"ALPHA": True, "BETA": True}  # each saw the other's request while waiting

    by_agent: dict[str, list[dict[str, Any]]] = {"ALPHA": [], "BETA": [], "parent": []}
    for request in fake.requests:
        system = _system(request.body)
        who = "ALPHA" if "You are ALPHA." in system else "BETA" if "You are BETA." in system else "parent"
        by_agent[who].append(request.body)
    assert len(by_agent["parent"]) == 2 and len(by_agent["ALPHA"]) == 2 and len(by_agent["BETA"]) == 1
    assert "Task" in _names(by_agent["parent"][0])
    assert _names(by_agent["ALPHA"][0]) == ["Glob", "Read"]
    assert _names(by_agent["BETA"][0]) == ["Grep"]
    assert by_agent["ALPHA"][0]["messages"][0]["content"][0]["text"] == "go A"

    # alpha's Bash call was refused, and its next request says so
    refused = tool_results(by_agent["ALPHA"][1], "anthropic")[-1]
    assert refused["id"] == "alpha_bash" and refused["is_error"]
    assert "unknown tool 'Bash'" in refused["content"] and "Glob, Read" in refused["content"]

    # the parent got each child's answer, with a footer
    answers = {r["id"]: r for r in tool_results(by_agent["parent"][1], "anthropic")}
    assert answers["task_a"]["content"].startswith("alpha done\n\n[agent alpha: 2 turns")
    assert answers["task_b"]["content"].startswith("beta done\n\n[agent beta: 1 turn,")

    # the children's spend rolls up: every request's tokens, priced
    assert result["usage"]["input_tokens"] == 2 * 1000 + 2 * 100 + 10
    usage = Usage(**result["usage"])
    assert abs(result["total_cost_usd"] - cost_usd(model_info("anthropic", "claude-sonnet-4-5"), usage)) < 1e-9

    # the transcript keeps the children's messages as side chains of their Task calls
    transcript = next((ketch_home / "projects").rglob(f"{result['session_id']}.jsonl"))
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    side = [r for r in records if r.get("isSidechain")]
    assert {(r["agent"], r["parent_tool_use_id"]) for r in side} == {("alpha", "task_a"), ("beta", "task_b")}
    alpha_prompt = next(r for r in side if r["agent"] == "alpha" and r["type"] == "user")
    assert alpha_prompt["content"] == [{"type": "text", "text": "go A"}]
    main = [r for r in records if not r.get("isSidechain") and r["type"] == "assistant"]
    assert len(main) == 2


def test_resume_ignores_the_side_chains(server, run_ketch, ketch_home: Path):
    script = Script()
    fake = server([script])
    fake.repeat_last = True
    first = run_ketch(["-p", "use both agents", "--output-format", "json", "--agents", json.dumps(AGENTS)],
                      server=fake)
    assert first.returncode == 0, first.stderr
    session = first.json()["session_id"]
    again = server([{"text": "resumed"}])
    run = run_ketch(["-p", "and now?", "--resume", session, "--output-format", "json"], server=again)
    assert run.returncode == 0, run.stderr
    messages = again.requests[0].body["messages"]
    texts = json.dumps(messages)
    assert "alpha_bash" not in texts and texts.count("alpha done") == 1  # the child's answer, as the Task result only
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]


def test_depth_limit_the_grandchild_has_no_task(server, run_ketch):
    agents = {"nest": {"description": "Nests.", "prompt": "You are NEST.", "tools": ["Task", "Read"]}}
    seen: list[tuple[int, list[str]]] = []

    def reply(body: dict[str, Any]) -> dict[str, Any]:
        system = _system(body)
        depth = 0 if "You are NEST." not in system else 1 + sum(
            1 for m in body["messages"][:1] if "deeper" in json.dumps(m))
        if not _has_results(body):
            seen.append((depth, _names(body)))
            if depth < 2:
                prompt = "deeper" if depth == 1 else "go"
                return {"tool_calls": [{"name": "Task", "input": {"description": "d", "prompt": prompt,
                                                                  "subagent_type": "nest"}}]}
            return {"tool_calls": [{"name": "Task", "id": "too_deep", "input": {
                "description": "d", "prompt": "x", "subagent_type": "nest"}}]}
        if depth == 2:
            refused = tool_results(body, "anthropic")[-1]
            return {"text": f"grandchild saw: {refused['content'][:40]}"}
        return {"text": f"depth {depth} done"}

    fake = server([reply])
    fake.repeat_last = True
    run = run_ketch(["-p", "nest", "--output-format", "json", "--agents", json.dumps(agents)], server=fake)
    assert run.returncode == 0, run.stderr
    assert seen[0][0] == 0 and "Task" in seen[0][1]
    assert seen[1:] == [(1, ["Read", "Task"]), (2, ["Read"])]
    grandchild_last = [r.body for r in fake.requests if "deeper" in json.dumps(r.body["messages"][:1])][-1]
    assert "unknown tool 'Task'" in tool_results(grandchild_last, "anthropic")[-1]["content"]


def test_stream_json_marks_the_childrens_messages_with_their_task_call(server, run_ketch):
    script = Script()
    fake = server([script])
    fake.repeat_last = True
    run = run_ketch(["-p", "use both agents", "--output-format", "stream-json", "--agents", json.dumps(AGENTS)],
                    server=fake)
    assert run.returncode == 0, run.stderr
    lines = run.lines()
    nested = {(m["type"], m["parent_tool_use_id"]) for m in lines if m.get("parent_tool_use_id")}
    assert nested == {("assistant", "task_a"), ("user", "task_a"), ("assistant", "task_b")}
    top = [m for m in lines if m["type"] == "assistant" and m["parent_tool_use_id"] is None]
    assert len(top) == 2

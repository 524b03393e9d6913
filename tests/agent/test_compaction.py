"""Auto-compaction end to end: it fires at the threshold, keeps instructions and tasks verbatim."""

from __future__ import annotations

import json
from pathlib import Path

from ketch.agent.compaction import ContextMeter, compacted_history
from ketch.conversation import Message, ModelRequest, TextBlock, ToolResultBlock, ToolUseBlock, Usage


def _text(content) -> str:  # type: ignore[no-untyped-def]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def test_compaction_fires_and_keeps_instructions_tasks_and_latest_exchange(server, run_ketch, workspace: Path,
                                                                           ketch_home: Path):
    (workspace / "big.txt").write_text("lorem ipsum dolor sit amet\n" * 900)
    todos = [{"content": "Port the parser to Rust", "status": "in_progress", "activeForm": "Porting the parser"}]
    fake = server([
        {"tool_calls": [{"name": "TodoWrite", "input": {"todos": todos}},
                        {"name": "Read", "id": "r1", "input": {"file_path": "big.txt"}}]},
        {"text": "SUMMARY-7f3: read big.txt, nothing changed yet."},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "Keep the public API stable. Port the parser.", "--output-format", "stream-json"],
                    server=fake, env={"KETCH_CONTEXT_WINDOW": "10000", "KETCH_AUTOCOMPACT_PCT": "60"})
    assert run.returncode == 0, run.stderr
    assert len(fake.requests) == 3
    summary_request = fake.requests[1].body
    assert "about to be compacted" in _text(summary_request["messages"][-1]["content"])
    assert not summary_request.get("tools")
    head = _text(fake.requests[2].body["messages"][0]["content"])
    assert "SUMMARY-7f3" in head
    assert "Keep the public API stable. Port the parser." in head  # the user's words, verbatim
    assert "Port the parser to Rust" in head                        # the task list, verbatim
    assert ".jsonl" in head                                          # where the full transcript is
    # the latest exchange (the Read call and its result) is kept exactly
    kept = fake.requests[2].body["messages"][-1]["content"]
    assert any(b.get("tool_use_id") == "r1" for b in kept)
    lines = run.lines()
    assert any(l.get("subtype") == "compact_boundary" for l in lines)
    assert lines[-1]["subtype"] == "success" and lines[-1]["result"] == "done"
    records = [json.loads(l) for f in (ketch_home / "projects").rglob("*.jsonl") for l in f.read_text().splitlines()]
    assert any(r["type"] == "compaction" and "SUMMARY-7f3" in r["summary"] for r in records)


def test_no_compaction_when_disabled(server, run_ketch, workspace: Path):
    (workspace / "big.txt").write_text("lorem ipsum dolor sit amet\n" * 900)
    fake = server([{"tool_calls": [{"name": "Read", "input": {"file_path": "big.txt"}}]}, {"text": "done"}])
    run = run_ketch(["-p", "x"], server=fake, env={"KETCH_CONTEXT_WINDOW": "10000", "KETCH_AUTOCOMPACT_PCT": "off"})
    assert run.returncode == 0 and len(fake.requests) == 2


def test_bad_autocompact_setting_is_a_usage_error(server, run_ketch):
    run = run_ketch(["-p", "x"], server=server([]), env={"KETCH_AUTOCOMPACT_PCT": "lots"})
    assert run.returncode == 2 and "KETCH_AUTOCOMPACT_PCT" in run.stderr


def test_meter_calibrates_on_reported_usage():
    meter = ContextMeter(window=1000, threshold=0.5)
    messages = [Message("user", [TextBlock("x" * 800)])]
    request = ModelRequest(model="m", system="", messages=messages)
    assert meter.estimate("", messages, []) > 200          # ~4 chars per token before any report
    meter.observe(request, Usage(input_tokens=100))          # the provider says: 8+ chars per token
    assert meter.estimate("", messages, []) < 120


def test_compacted_history_alternates_roles_and_keeps_pending_results():
    messages = [Message("user", [TextBlock("do it")]),
                Message("assistant", [ToolUseBlock("t1", "Read", {"file_path": "a"})]),
                Message("user", [ToolResultBlock("t1", "content")])]
    new = compacted_history(messages, "S", instructions=["do it"], todos=[], files=[], transcript="")
    assert [m.role for m in new] == ["user", "assistant", "user"]
    assert new[1:] == messages[1:]
    after_prompt = compacted_history(messages + [Message("assistant", [TextBlock("ok")]),
                                                 Message("user", [TextBlock("next")])],
                                     "S", instructions=["do it", "next"], todos=[], files=[], transcript="")
    assert [m.role for m in after_prompt] == ["user", "assistant", "user"]
    assert after_prompt[-1].content[0].text == "next"


def test_long_tool_output_is_trimmed_and_kept_whole_for_read(server, run_ketch, workspace: Path, ketch_home: Path):
    import re

    fake = server([
        {"tool_calls": [{"name": "Bash", "id": "b1", "input": {"command": "seq 1 60000"}}]},
        lambda body: {"tool_calls": [{"name": "Read", "id": "r1", "input": {
            "file_path": re.search(r"full output is in (\S+) ", _last_result(body)).group(1),
            "offset": 30000, "limit": 3}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "count"], server=fake)
    assert run.returncode == 0, run.stderr
    seen = _last_result(fake.requests[1].body)
    assert len(seen) < 32_000 and seen.startswith("1\n2\n") and seen.rstrip().endswith("60000")
    assert "cut from the middle" in seen
    again = _last_result(fake.requests[2].body)
    assert "30000" in again and "30001" in again and "permission denied" not in again


def _last_result(body: dict) -> str:  # type: ignore[type-arg]
    for message in reversed(body["messages"]):
        if isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    return content if isinstance(content, str) else "".join(c.get("text", "") for c in content)
    raise AssertionError("no tool result")


def test_resume_restores_the_users_prompts_including_compacted_ones():
    from types import SimpleNamespace

    from ketch.agent.sessions.resume import _restore_instructions

    head = compacted_history([Message("user", [TextBlock("first ask")])], "S",
                             instructions=["first ask", "second ask"], todos=[], files=[], transcript="")[0]
    messages = [head, Message("assistant", [TextBlock("ok")]), Message("user", [TextBlock("third ask")]),
                Message("assistant", [ToolUseBlock("t", "Read", {"file_path": "a"})]),
                Message("user", [ToolResultBlock("t", "x")])]
    agent = SimpleNamespace(instructions=[])
    _restore_instructions(agent, messages)
    assert agent.instructions == ["first ask", "second ask", "third ask"]

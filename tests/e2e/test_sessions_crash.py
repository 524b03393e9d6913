"""`kill -9` at the worst moments, then `--continue`: nothing but the streamed reply is lost.

The fake server stalls mid-stream (`{"stall_after": N}`) or the model's Bash call is still
running when ketch is killed; the next run must resume, send a valid conversation, and
keep the session id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from session_helpers import (
    assert_valid_anthropic,
    assert_valid_openai,
    kill9,
    records,
    session_files,
    spawn_ketch,
    texts,
    wait_for,
)

INTERRUPTED = "interrupted: ketch stopped before this call finished"


def test_kill_during_a_streamed_reply(server, run_ketch, ketch_home: Path, workspace: Path):
    fake = server([
        {"text": "Looking first.", "tool_calls": [{"name": "Glob", "input": {"pattern": "*"}}]},
        {"text": "A long answer that never arrives in full: HALFWAY", "stall_after": 6},
        {"text": "Resumed fine."},
    ])
    proc = spawn_ketch(["-p", "summarise the project", "--output-format", "json"], home=ketch_home, cwd=workspace,
                       server=fake)
    try:
        wait_for(fake.stalled.is_set, "the reply to stall mid-stream", proc)
        sid = next(iter(session_files(ketch_home)))

        # While it runs, the session is locked: resuming it is refused; nothing is damaged.
        busy = run_ketch(["-r", sid, "-p", "me too"], server=fake)
        assert busy.returncode == 2 and "in use by another ketch process" in busy.stderr
        assert len(fake.requests) == 2
    finally:
        kill9(proc)

    before = session_files(ketch_home)[sid].read_bytes()
    run = run_ketch(["-c", "-p", "go on", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    assert run.json()["session_id"] == sid and run.json()["result"] == "Resumed fine."
    assert run.stderr == ""  # nothing was broken: the streamed reply was simply never recorded
    body = fake.requests[-1].body
    assert_valid_anthropic(body)
    joined = texts(body)
    assert "summarise the project" in joined and "Looking first." in joined and "go on" in joined
    assert "HALFWAY" not in joined and "A long" not in joined
    assert session_files(ketch_home)[sid].read_bytes().startswith(before)


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_kill_during_a_tool_call(dialect, server, run_ketch, ketch_home: Path, workspace: Path):
    fake = server([
        {"text": "Running it.", "tool_calls": [{"name": "Bash", "id": "call_sleep",
                                                "input": {"command": "touch started && sleep 30"}}]},
        {"text": "It was interrupted; shall I retry?"},
        {"text": "Still here."},
    ])
    proc = spawn_ketch(["-p", "run the slow job", "--permission-mode", "bypassPermissions"], home=ketch_home,
                       cwd=workspace, server=fake, dialect=dialect)
    try:
        wait_for((workspace / "started").exists, "the tool call to start", proc)
    finally:
        kill9(proc)
    sid = next(iter(session_files(ketch_home)))
    assert [r["type"] for r in records(session_files(ketch_home)[sid])] == ["session", "user", "assistant", "permission"]

    run = run_ketch(["-c", "-p", "what happened?", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    assert run.json()["session_id"] == sid
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and sid in warnings[0] and "interrupted" in warnings[0]
    body = fake.requests[-1].body
    if dialect == "anthropic":
        assert_valid_anthropic(body)
        result = [(b["tool_use_id"], b["content"], b.get("is_error")) for m in body["messages"]
                  for b in m["content"] if b.get("type") == "tool_result"]
        assert result == [("call_sleep", INTERRUPTED, True)]
    else:
        assert_valid_openai(body)
        tool = [m for m in body["messages"] if m["role"] == "tool"]
        assert len(tool) == 1 and tool[0]["tool_call_id"] == "call_sleep" and INTERRUPTED in tool[0]["content"]
    assert "run the slow job" in texts(body) and "what happened?" in texts(body)

    # The invented result was written down: the next resume has nothing to repair.
    again = run_ketch(["-c", "-p", "still there?", "--output-format", "json"], server=fake, dialect=dialect)
    assert again.returncode == 0 and again.stderr == "" and again.json()["session_id"] == sid
    lines = records(session_files(ketch_home)[sid])
    repaired = [r for r in lines if r["type"] == "user" and r["content"][0].get("type") == "tool_result"]
    assert len(repaired) == 1 and json.dumps(repaired[0]).count(INTERRUPTED) == 1

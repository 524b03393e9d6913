"""The session store in process: fsync policy, lock, torn tails, the summary index, lookup."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from session_helpers import make_session, real, records

from ketch.agent import events as ev
from ketch.agent.sessions.index import SessionInfo, meta_path, read_info
from ketch.agent.sessions.load import load_session
from ketch.agent.sessions.lock import SessionBusy
from ketch.agent.sessions.resume import open_session
from ketch.agent.sessions.store import find_session, latest_session, list_sessions
from ketch.agent.sessions.transcript import TranscriptWriter
from ketch.conversation import Message, TextBlock, ToolResultBlock, ToolUseBlock, Usage
from ketch.errors import SessionError


def reply(*blocks) -> ev.AssistantMessage:  # type: ignore[no-untyped-def]
    message = Message("assistant", list(blocks))
    return ev.AssistantMessage(message, "m", "model-x", "tool_use" if message.tool_uses() else "end_turn", Usage())


def test_fsync_at_turn_ends_and_close_only(tmp_path: Path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    writer = TranscriptWriter(tmp_path / "s" / "abc.jsonl", redact=lambda t: t)
    writer.on_event(ev.SessionStarted("abc", "model-x", "anthropic", "/w", [], "default"))
    writer.on_event(ev.UserPrompt("go"))
    base = len(synced)  # creating the file syncs its folder once
    writer.on_event(reply(TextBlock("calling"), ToolUseBlock("t1", "Bash", {"command": "ls"})))
    writer.on_event(ev.PermissionDecision("t1", "Bash", True, "ok", "mode"))
    assert len(synced) == base  # mid-turn: flushed to the kernel, not yet fsynced
    assert records(writer.path)[-1]["type"] == "permission"  # ... but already readable by others
    writer.on_event(ev.ToolResults(Message("user", [ToolResultBlock("t1", "out")])))
    assert len(synced) == base + 1  # end of a tool turn
    writer.on_event(reply(TextBlock("done")))
    assert len(synced) == base + 2  # end of the final reply
    writer.close()
    assert len(synced) == base + 3


def test_a_second_writer_is_refused_while_the_first_holds_the_session(tmp_path: Path):
    path = tmp_path / "abc.jsonl"
    first = TranscriptWriter(path, redact=lambda t: t)
    first.write({"type": "user", "content": [{"type": "text", "text": "hi"}]})
    second = TranscriptWriter(path, redact=lambda t: t)
    with pytest.raises(SessionBusy):
        second.open()
    warnings: list[str] = []
    third = TranscriptWriter(path, redact=lambda t: t, warn=warnings.append)
    third.write({"type": "user", "content": [{"type": "text", "text": "me too"}]})
    assert len(warnings) == 1 and "another ketch process" in warnings[0]
    first.close()
    assert [r["content"][0]["text"] for r in records(path)] == ["hi"]
    second.open()  # free again once the first is closed
    second.close()


def test_appending_after_a_torn_line_starts_a_new_line(tmp_path: Path):
    path = tmp_path / "abc.jsonl"
    path.write_bytes(b'{"type": "user", "content": [{"type": "text", "text": "ok"}]}\n{"type": "assis')
    writer = TranscriptWriter(path, redact=lambda t: t)
    writer.write({"type": "user", "content": [{"type": "text", "text": "after"}]})
    writer.close()
    loaded = load_session(path)
    assert [b.text for m in loaded.messages for b in m.content] == ["ok", "after"]
    assert "skipped line 2 (not valid JSON)" in loaded.warning()


def test_undecodable_text_is_escaped_not_fatal(tmp_path: Path):
    path = tmp_path / "abc.jsonl"
    writer = TranscriptWriter(path, redact=lambda t: t)
    weird = b"bytes \xff\xfe from a tool".decode("utf-8", "surrogateescape")
    writer.on_event(ev.ToolResults(Message("user", [ToolResultBlock("t", weird)])))
    writer.close()
    path.read_bytes().decode("utf-8")  # the file stays valid UTF-8
    assert records(path)[0]["content"][0]["content"] == weird


def test_secrets_are_redacted_in_the_summary_too(tmp_path: Path):
    path = tmp_path / "abc.jsonl"
    writer = TranscriptWriter(path, redact=lambda t: t.replace("hunter2", "[REDACTED]"))
    writer.on_event(ev.UserPrompt("my password is hunter2"))
    writer.close()
    assert "hunter2" not in path.read_text() and "hunter2" not in meta_path(path).read_text()


def test_the_summary_is_brought_up_to_date_from_the_tail(tmp_path: Path, ketch_home: Path, workspace: Path):
    path = make_session(ketch_home, workspace, [("one", "a"), ("two", "b")])
    info = read_info(path)
    assert (info.turns, info.prompts, info.first_prompt, info.indexed_bytes) == (4, 2, "one", path.stat().st_size)
    # A crash after more records were appended but before the summary was rewritten:
    with open(path, "a") as f:
        f.write(json.dumps({"type": "user", "content": [{"type": "text", "text": "three"}], "ts": 5e9}) + "\n")
        f.write(json.dumps({"type": "assistant", "content": [{"type": "text", "text": "c"}]}) + "\n")
        f.write('{"type": "assistant", "cont')  # still being written
    info = read_info(path)
    assert (info.turns, info.prompts, info.updated) == (5, 3, 5e9)
    assert info.indexed_bytes < path.stat().st_size  # the torn line is not counted as read


@pytest.mark.parametrize("damage", ["{broken", json.dumps({"version": 1, "session_id": "x"}), ""])
def test_a_bad_summary_is_rebuilt_not_trusted(damage: str, ketch_home: Path, workspace: Path):
    path = make_session(ketch_home, workspace, [("one", "a")])
    meta_path(path).write_text(damage)
    assert read_info(path).turns == 2


def test_a_summary_claiming_more_than_the_file_is_rebuilt(ketch_home: Path, workspace: Path):
    path = make_session(ketch_home, workspace, [("one", "a")])
    info = read_info(path)
    info.indexed_bytes += 1000
    info.turns = 99
    meta_path(path).write_text(info.to_json())
    assert read_info(path).turns == 2


def test_lookup_latest_and_prefix(ketch_home: Path, workspace: Path):
    a = make_session(ketch_home, workspace, [("a", "a")], session_id="aaaa-1")
    b = make_session(ketch_home, workspace, [("b", "b")], session_id="bbbb-1")
    os.utime(a, (2e9, 2e9))
    ws = real(workspace)
    assert latest_session(ketch_home, ws).session_id == "aaaa-1"
    os.utime(b, (3e9, 3e9))
    assert latest_session(ketch_home, ws).session_id == "bbbb-1"
    assert find_session(ketch_home, ws, "bbb").transcript == b
    with pytest.raises(SessionError, match="no session"):
        find_session(ketch_home, ws, "cccc")
    assert [r.session_id for r in list_sessions(ketch_home, ws)] == ["bbbb-1", "aaaa-1"]


def fake_agent(workspace: Path) -> SimpleNamespace:
    from ketch.tools.base import SessionState

    return SimpleNamespace(config=SimpleNamespace(workspace=real(workspace)), session_id="new-id",
                           redact=lambda t: t, messages=[], state=SessionState())


def test_resume_restores_the_task_list(ketch_home: Path, workspace: Path):
    path = make_session(ketch_home, workspace, [], session_id="todo-1")
    todos = [{"content": "write tests", "status": "in_progress", "activeForm": "Writing tests"}]
    with open(path, "a") as f:
        f.writelines(json.dumps(record) + "\n" for record in [
            {"type": "user", "content": [{"type": "text", "text": "plan it"}]},
            {"type": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "TodoWrite", "input": {"todos": todos}}]},
            {"type": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        ])
    agent = fake_agent(workspace)
    writer, warning = open_session(agent, ketch_home, resume="todo-1")
    writer.close()
    assert warning is None and agent.session_id == "todo-1" and agent.state.todos == todos


def test_fork_copies_history_into_the_new_transcript(ketch_home: Path, workspace: Path):
    original = make_session(ketch_home, workspace, [("one", "a")])
    before = original.read_bytes()
    agent = fake_agent(workspace)
    writer, _ = open_session(agent, ketch_home, continue_=True, fork=True)
    writer.on_event(ev.SessionStarted("new-id", "model-x", "anthropic", str(real(workspace)), [], "default"))
    writer.close()
    assert agent.session_id == "new-id" and original.read_bytes() == before
    copied = load_session(writer.path)
    assert copied.messages == load_session(original).messages
    assert copied.info.forked_from == original.stem and copied.info.turns == 2
    assert isinstance(SessionInfo.from_json(meta_path(writer.path).read_text()), SessionInfo)


def test_a_compaction_record_replaces_the_history_on_resume_only(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    rows = [
        {"type": "user", "content": [{"type": "text", "text": "long task"}]},
        {"type": "assistant", "content": [{"type": "text", "text": "old detail"}]},
        {"type": "compaction", "summary": "s", "tokens_before": 9, "tokens_after": 1,
         "messages": [{"role": "user", "content": [{"type": "text", "text": "SUMMARY of the task"}]}]},
        {"type": "checkpoint", "turn": 1},
        {"type": "assistant", "content": [{"type": "text", "text": "after compaction"}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    resumed = load_session(path)
    assert [b.text for m in resumed.messages for b in m.content] == ["SUMMARY of the task", "after compaction"]
    assert resumed.warning() is None
    everything = load_session(path, follow_compaction=False)
    assert [b.text for m in everything.messages for b in m.content] == ["long task", "old detail", "after compaction"]

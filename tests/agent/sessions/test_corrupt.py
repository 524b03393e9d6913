"""Damaged transcripts: one warning line, the readable part resumed, nothing else touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from session_helpers import assert_valid_anthropic, make_session, records, session_files, texts

from ketch.agent.sessions.load import load_session
from ketch.agent.sessions.repair import INTERRUPTED, LOST_START, repair
from ketch.conversation import Message, TextBlock, ThinkingBlock, ToolResultBlock, ToolUseBlock


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def corrupt(path: Path, kind: str) -> None:
    lines = lines_of(path)
    if kind == "truncated last line":
        last = lines.pop()
        lines.append(last[: len(last) // 2])
    elif kind == "garbage line":
        lines.insert(3, b"this is not json at all\n")
    elif kind == "binary junk":
        lines.insert(3, b"\xff\xfe\x00\x81junk\x00\n")
    elif kind == "unknown record type":
        lines.insert(3, json.dumps({"type": "from-the-future", "x": 1}).encode() + b"\n")
    elif kind == "half record mid-file":
        lines.insert(3, lines[2][:20] + b"\n")
    path.write_bytes(b"".join(lines))


KINDS = ["truncated last line", "garbage line", "binary junk", "unknown record type", "half record mid-file"]


@pytest.mark.parametrize("kind", KINDS)
def test_corrupted_session_warns_once_and_resumes_the_readable_part(kind, server, run_ketch, ketch_home: Path,
                                                                    workspace: Path):
    bystander = make_session(ketch_home, workspace, [("another session", "untouched")], start_ts=1_000)
    victim = make_session(ketch_home, workspace, [("first prompt ALPHA", "answer one"), ("second prompt BETA", "two")])
    corrupt(victim, kind)
    damaged = victim.read_bytes()
    bystander_bytes = bystander.read_bytes()
    fake = server([{"text": "resumed"}])

    run = run_ketch(["-r", victim.stem, "-p", "next", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    assert run.json()["session_id"] == victim.stem
    warning = run.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("ketch: warning: session ") and "Traceback" not in run.stderr
    assert "continuing with what is readable" in warning[0]
    body = fake.requests[0].body
    assert_valid_anthropic(body)
    assert "first prompt ALPHA" in texts(body) and "second prompt BETA" in texts(body)
    assert texts(body).rstrip().endswith("next")
    # Only appended to (the damaged bytes stay as they were); the other session is byte-identical.
    assert victim.read_bytes().startswith(damaged)
    assert bystander.read_bytes() == bystander_bytes
    # The appended records are readable: a torn last line did not swallow them.
    assert records_after(victim, len(damaged))[0]["type"] == "session"


def records_after(path: Path, offset: int) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes()[offset:].decode().splitlines() if line.strip()]


@pytest.mark.parametrize("kind", KINDS)
def test_loader_reports_each_kind(kind, ketch_home: Path, workspace: Path):
    path = make_session(ketch_home, workspace, [("one", "a"), ("two", "b")])
    corrupt(path, kind)
    before = path.read_bytes()
    loaded = load_session(path)
    assert loaded.warning() is not None
    roles = ["user", "assistant", "user", "assistant"] * 2
    if kind == "truncated last line":
        roles.pop()  # the torn line was the last answer: only it is lost
    assert [m.role for m in loaded.messages] == roles
    assert path.read_bytes() == before


def test_loader_words_the_problems(ketch_home: Path, workspace: Path):
    path = make_session(ketch_home, workspace, [("one", "a")])
    corrupt(path, "binary junk")
    assert "skipped line 4 (not UTF-8)" in load_session(path).warning()
    path = make_session(ketch_home, workspace, [("one", "a")])
    corrupt(path, "truncated last line")
    assert "incomplete (ketch stopped while writing it)" in load_session(path).warning()
    path = make_session(ketch_home, workspace, [("one", "a")])
    corrupt(path, "unknown record type")
    assert "unknown type 'from-the-future'" in load_session(path).warning()


def test_an_empty_or_missing_session(ketch_home: Path, tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    loaded = load_session(empty)
    assert loaded.messages == [] and loaded.warning() is None
    with pytest.raises(OSError):
        load_session(tmp_path / "missing.jsonl")


def test_blocks_keep_thinking_signatures_and_tool_calls(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    rows = [
        {"type": "session", "session_id": "s", "cwd": "/w", "model": "m"},
        {"type": "user", "content": [{"type": "text", "text": "q"}]},
        {"type": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                                          {"type": "redacted_thinking", "data": "opaque"},
                                          {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a"}}]},
        {"type": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x", "is_error": False}]},
        {"type": "assistant", "content": [{"type": "text", "text": "done"}, {"type": "mystery"}, "not a block"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_session(path)
    thinking, redacted, call = loaded.messages[1].content
    assert thinking == ThinkingBlock("hmm", "sig1") and redacted == ThinkingBlock("", "opaque", redacted=True)
    assert call == ToolUseBlock("t1", "Read", {"file_path": "a"})
    assert loaded.messages[3].content == [TextBlock("done")]
    assert "skipped 2 unusable content block(s)" in loaded.warning()


# -- repair rules, in process ---------------------------------------------------------------

def user(text: str) -> Message:
    return Message("user", [TextBlock(text)])


def said(text: str, *calls: str) -> Message:
    return Message("assistant", [TextBlock(text), *[ToolUseBlock(c, "Bash", {"command": "x"}) for c in calls]])


def results(*ids: str) -> Message:
    return Message("user", [ToolResultBlock(i, "out") for i in ids])


def test_dangling_calls_get_an_interrupted_result():
    messages, fixes = repair([user("go"), said("running", "a", "b")])
    assert messages[-1] == Message("user", [ToolResultBlock("a", INTERRUPTED, True), ToolResultBlock("b", INTERRUPTED, True)])
    assert fixes.interrupted_calls == 2


def test_partly_answered_calls_are_completed_in_the_same_message():
    messages, fixes = repair([user("go"), said("running", "a", "b"), results("a"), said("ok")])
    assert messages[2] == Message("user", [ToolResultBlock("a", "out"), ToolResultBlock("b", INTERRUPTED, True)])
    assert fixes.interrupted_calls == 1 and len(messages) == 4


def test_a_lost_results_line_between_two_replies():
    messages, _ = repair([user("go"), said("running", "a"), said("next")])
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2].content == [ToolResultBlock("a", INTERRUPTED, True)]


def test_orphan_results_are_dropped_and_users_joined():
    messages, fixes = repair([user("go"), said("hi"), results("zzz"), user("again")])
    assert messages == [user("go"), said("hi"), user("again")]
    assert fixes.orphan_results == 1


def test_a_prompt_after_a_dangling_call_follows_its_result():
    messages, _ = repair([user("go"), said("running", "a"), user("what happened?")])
    assert messages[2].content == [ToolResultBlock("a", INTERRUPTED, True), TextBlock("what happened?")]


def test_lost_beginning_is_marked_and_replies_joined():
    messages, fixes = repair([said("one"), said("two"), user("q")])
    assert messages[0] == user(LOST_START) and fixes.lost_start
    assert messages[1].content == [TextBlock("one"), TextBlock("two")]


def test_a_valid_conversation_is_left_alone():
    convo = [user("go"), said("run", "a"), results("a"), said("done"), user("more"), said("ok")]
    messages, fixes = repair(convo)
    assert messages == convo and not fixes


def test_other_sessions_files_are_never_opened_for_writing(ketch_home: Path, workspace: Path):
    paths = [make_session(ketch_home, workspace, [(f"p{i}", "a")]) for i in range(3)]
    snapshot = {p: p.read_bytes() for p in session_files(ketch_home).values()}
    for p in paths:
        load_session(p)
    assert {p: p.read_bytes() for p in session_files(ketch_home).values()} == snapshot
    assert all(records(p)[0]["type"] == "session" for p in paths)

"""End-to-end: --continue, --resume ID, --fork-session with the real `ketch` and the fake server."""

from __future__ import annotations

from pathlib import Path

import pytest
from session_helpers import (
    assert_valid_anthropic,
    assert_valid_openai,
    make_session,
    real,
    records,
    session_files,
    texts,
)


def without_cache_marks(messages: list) -> list:
    """Messages with Anthropic's cache breakpoints removed: they move as the conversation grows."""
    return [{**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
            if isinstance(m.get("content"), list) else m for m in messages]


def first_run(run_ketch, fake, dialect="anthropic"):
    run = run_ketch(["-p", "remember the word PELICAN", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    return run.json()["session_id"]


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_continue_sends_the_history_and_keeps_the_session_id(dialect, server, run_ketch, ketch_home: Path):
    fake = server([{"text": "Noted.", "tool_calls": [{"name": "Glob", "input": {"pattern": "*"}}]},
                   {"text": "I will remember PELICAN."}, {"text": "The word was PELICAN."}])
    session_id = first_run(run_ketch, fake, dialect)
    first_request_count = len(fake.requests)

    run = run_ketch(["-c", "-p", "what was the word?", "--output-format", "json"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    assert run.json()["session_id"] == session_id
    assert run.json()["result"] == "The word was PELICAN."
    body = fake.requests[first_request_count].body
    # The first run's whole conversation, then the new prompt.
    earlier = without_cache_marks(fake.requests[first_request_count - 1].body["messages"])
    assert without_cache_marks(body["messages"])[:len(earlier)] == earlier
    joined = texts(body)
    assert "remember the word PELICAN" in joined and "I will remember PELICAN." in joined
    assert joined.rstrip().endswith("what was the word?")
    (assert_valid_anthropic if dialect == "anthropic" else assert_valid_openai)(body)
    # Same transcript, appended: a second run-start record marked as resumed.
    assert list(session_files(ketch_home)) == [session_id]
    sessions = [r for r in records(session_files(ketch_home)[session_id]) if r["type"] == "session"]
    assert [s.get("resumed", False) for s in sessions] == [False, True]
    assert run.stderr == ""


def test_resume_by_id_and_by_prefix(server, run_ketch, ketch_home: Path):
    fake = server([{"text": "one"}, {"text": "two"}, {"text": "three"}, {"text": "four"}])
    first = first_run(run_ketch, fake)
    other = run_ketch(["-p", "an unrelated session", "--output-format", "json"], server=fake).json()["session_id"]
    assert other != first

    run = run_ketch(["--resume", first, "-p", "and now?", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    assert run.json()["session_id"] == first
    assert "remember the word PELICAN" in texts(fake.requests[2].body)
    assert "unrelated" not in texts(fake.requests[2].body)

    run = run_ketch(["-r", first[:8], "-p", "once more", "--output-format", "stream-json"], server=fake)
    assert run.returncode == 0, run.stderr
    assert {line["session_id"] for line in run.lines()} == {first}
    assert "and now?" in texts(fake.requests[3].body)


def test_fork_writes_a_new_session_and_leaves_the_original_untouched(server, run_ketch, ketch_home: Path):
    fake = server([{"text": "PELICAN noted."}, {"text": "forked answer"}, {"text": "fork again"}])
    original = first_run(run_ketch, fake)
    original_path = session_files(ketch_home)[original]
    before = original_path.read_bytes()

    run = run_ketch(["-c", "--fork-session", "-p", "branch off", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    fork = run.json()["session_id"]
    assert fork != original
    assert original_path.read_bytes() == before
    assert "remember the word PELICAN" in texts(fake.requests[1].body)
    fork_records = records(session_files(ketch_home)[fork])
    assert fork_records[0]["type"] == "session" and fork_records[0]["forked_from"] == original

    # The fork is a session of its own: resuming it sees the copied history and the branch.
    run = run_ketch(["-r", fork, "-p", "and then?", "--output-format", "json"], server=fake)
    assert run.returncode == 0 and run.json()["session_id"] == fork
    joined = texts(fake.requests[2].body)
    assert "remember the word PELICAN" in joined and "branch off" in joined and "forked answer" in joined
    assert original_path.read_bytes() == before


def test_resume_of_another_folders_session_is_a_clear_error(server, run_ketch, tmp_path: Path, ketch_home: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fake = server([{"text": "hi"}])
    sid = run_ketch(["-p", "hi", "--output-format", "json"], server=fake, cwd=elsewhere).json()["session_id"]
    before = session_files(ketch_home)[sid].read_bytes()

    run = run_ketch(["-r", sid, "-p", "x"], server=fake)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and str(real(elsewhere)) in run.stderr and "not this folder" in run.stderr
    assert len(fake.requests) == 1
    assert session_files(ketch_home)[sid].read_bytes() == before


def test_continue_ignores_sessions_of_another_folder_with_the_same_slug(server, run_ketch, tmp_path: Path,
                                                                         ketch_home: Path, workspace: Path):
    # "/x/a-b" and "/x/a/b" share a slug; --continue must not pick the other folder's session.
    (tmp_path / "a-b").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    make_session(ketch_home, tmp_path / "a" / "b", [("from a/b", "ok")])
    fake = server([{"text": "fresh"}])
    run = run_ketch(["-c", "-p", "x"], server=fake, cwd=tmp_path / "a-b")
    assert run.returncode == 2 and "no session to continue" in run.stderr
    assert fake.requests == []


@pytest.mark.parametrize("args, message", [
    (["-r", "-p", "x"], "--resume needs a session id in headless mode"),
    (["-c", "-r", "abc", "-p", "x"], "cannot be combined"),
    (["--fork-session", "-p", "x"], "--fork-session needs --continue or --resume"),
    (["-c", "-p", "x"], "no session to continue in this folder"),
    (["-r", "0000dead-0000", "-p", "x"], "no session '0000dead-0000' in this folder"),
    (["-r", "../../etc/passwd", "-p", "x"], "is not a session id"),
])
def test_session_flag_errors_are_one_line_exit_2(args, message, server, run_ketch):
    fake = server([{"text": "never"}])
    run = run_ketch(args, server=fake)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert fake.requests == []


def test_repl_resume_narrows_the_list_by_words_then_by_number(server, run_ketch):
    fake = server([{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "resumed answer"}])
    for prompt in ("fix the parser bug", "write the docs for the parser", "write release notes"):
        assert run_ketch(["-p", prompt], server=fake).returncode == 0
    run = run_ketch([], server=fake, env={"TERM": "dumb"},
                    stdin="/resume write\nparser\nand then?\n")  # two match "write"; "parser" leaves one
    assert run.returncode == 0, run.stderr
    assert "write release notes" in run.stdout and "fix the parser bug" not in run.stdout.split("/resume")[-1]
    body = texts(fake.requests[-1].body)
    assert "write the docs for the parser" in body and "and then?" in body
    assert "release notes" not in body and "fix the parser bug" not in body

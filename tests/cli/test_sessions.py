"""`ketch sessions list|show|search|export|rm` with the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from session_helpers import make_session, real, session_files

from ketch.agent.sessions.transcript import TranscriptWriter


@pytest.fixture
def sessions(ketch_home: Path, workspace: Path, tmp_path: Path) -> dict[str, Path]:
    other = tmp_path / "other-project"
    other.mkdir()
    return {
        "old": make_session(ketch_home, workspace, [("Fix the Parser bug", "Fixed the parser."), ("thanks", "np")],
                            start_ts=1_700_000_000),
        "new": make_session(ketch_home, workspace, [("add a CHANGELOG entry\nwith details", "Added it.")],
                            start_ts=1_700_100_000),
        "elsewhere": make_session(ketch_home, other, [("deploy the parser service", "Deployed.")],
                                  start_ts=1_700_200_000),
    }


def sessions_cmd(run_ketch, *args: str):
    return run_ketch(["sessions", *args], model=None)


def test_list_this_folder_newest_first(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "list")
    assert run.returncode == 0, run.stderr
    header, *rows = run.stdout.splitlines()
    assert header.split() == ["ID", "LAST", "ACTIVITY", "TURNS", "MODEL", "FIRST", "PROMPT"]
    assert [r.split()[0] for r in rows] == [sessions["new"].stem, sessions["old"].stem]
    new, old = rows
    assert "add a CHANGELOG entry with details" in new and "claude-sonnet-4-5" in new
    assert old.split()[3] == "4"  # turns: model replies (a Read call and an answer per prompt)
    assert "deploy" not in run.stdout


def test_list_all_shows_every_folder(sessions, run_ketch, tmp_path: Path):
    run = sessions_cmd(run_ketch, "list", "--all")
    assert run.returncode == 0
    rows = run.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == [sessions[k].stem for k in ("elsewhere", "new", "old")]
    assert str(real(tmp_path / "other-project")) in rows[0] and "FOLDER" in run.stdout.splitlines()[0]


def test_list_with_no_sessions(run_ketch):
    run = sessions_cmd(run_ketch, "list")
    assert run.returncode == 0 and run.stdout == "" and "no sessions in this folder" in run.stderr


def test_list_does_not_need_the_summary_files(sessions, run_ketch, ketch_home: Path):
    for meta in (ketch_home / "projects").rglob("*.meta.json"):
        meta.write_text("{not json")
    run = sessions_cmd(run_ketch, "list")
    assert [r.split()[0] for r in run.stdout.splitlines()[1:]] == [sessions["new"].stem, sessions["old"].stem]
    assert "Fix the Parser bug" in run.stdout


def test_show_is_a_readable_transcript(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "show", sessions["old"].stem)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith(f"session  {sessions['old'].stem}\n")
    assert "[user]\nFix the Parser bug" in out and "[assistant]\nFixed the parser." in out
    assert '  -> Read {"file_path": "notes.txt"}' in out and "  <- ok: 1 file body 0 SECRETWORD" in out
    assert out.index("Fix the Parser bug") < out.index("Fixed the parser.") < out.index("thanks")


def test_show_finds_a_session_of_another_folder_by_prefix(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "show", sessions["elsewhere"].stem[:13])
    assert run.returncode == 0 and "deploy the parser service" in run.stdout


def test_search_prompts_and_answers_ignoring_case(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "search", "PARSER")
    assert run.returncode == 0, run.stderr
    hits = run.stdout.splitlines()
    assert len(hits) == 2 and all(h.startswith(sessions["old"].stem) for h in hits)
    assert "user" in hits[0] and "Fix the Parser bug" in hits[0]
    assert "assistant" in hits[1] and "Fixed the parser." in hits[1]

    everywhere = sessions_cmd(run_ketch, "search", "parser", "--all")
    assert {h.split()[0] for h in everywhere.stdout.splitlines()} == {sessions["old"].stem, sessions["elsewhere"].stem}


def test_search_skips_tool_output_and_reports_no_match(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "search", "secretword")
    assert run.returncode == 1 and run.stdout == "" and "contains 'secretword'" in run.stderr


def test_search_matches_text_with_quotes_and_newlines(sessions, run_ketch, ketch_home: Path, workspace: Path):
    make_session(ketch_home, workspace, [('say "hello"\nthen Ünïcode', "ok")])
    assert sessions_cmd(run_ketch, "search", 'SAY "HELLO"').returncode == 0
    assert sessions_cmd(run_ketch, "search", "ünïCODE").returncode == 0


def test_export_json(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "export", sessions["old"].stem)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["session_id"] == sessions["old"].stem and data["turns"] == 4
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "user", "assistant"] * 2
    assert data["messages"][1]["content"][1] == {"type": "tool_use", "id": "toolu_0", "name": "Read",
                                                 "input": {"file_path": "notes.txt"}}


def test_export_markdown(sessions, run_ketch):
    run = sessions_cmd(run_ketch, "export", sessions["old"].stem, "--format", "markdown")
    assert run.returncode == 0
    out = run.stdout
    assert out.startswith(f"# ketch session {sessions['old'].stem}\n")
    assert "## User\n\nFix the Parser bug" in out and "**Tool call** `Read`" in out and "## Assistant" in out


def test_rm_deletes_only_that_session(sessions, run_ketch, ketch_home: Path):
    others = {k: sessions[k].read_bytes() for k in ("new", "elsewhere")}
    run = sessions_cmd(run_ketch, "rm", sessions["old"].stem)
    assert run.returncode == 0 and run.stdout.strip() == f"deleted session {sessions['old'].stem}"
    assert not sessions["old"].exists() and not sessions["old"].with_name(sessions["old"].stem + ".meta.json").exists()
    assert {k: sessions[k].read_bytes() for k in others} == others
    again = sessions_cmd(run_ketch, "show", sessions["old"].stem)
    assert again.returncode == 2 and "no session" in again.stderr


def test_rm_refuses_a_session_in_use(sessions, run_ketch):
    writer = TranscriptWriter(sessions["new"], redact=lambda t: t)
    writer.open()  # this test process now holds the session, like a running ketch
    try:
        run = sessions_cmd(run_ketch, "rm", sessions["new"].stem)
        assert run.returncode == 2 and "in use" in run.stderr and sessions["new"].exists()
    finally:
        writer.close()


@pytest.mark.parametrize("args", [["show", "feedface-0000"], ["export", "feedface-0000"], ["rm", "feedface-0000"],
                                  ["show", "../x"], ["export", "feedface", "--format", "yaml"], ["frobnicate"], []])
def test_unknown_ids_and_bad_usage_are_one_line_exit_2(sessions, run_ketch, args, ketch_home: Path):
    before = {p: p.read_bytes() for p in session_files(ketch_home).values()}
    run = sessions_cmd(run_ketch, *args)
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("ketch: ")
    assert {p: p.read_bytes() for p in session_files(ketch_home).values()} == before


def test_an_ambiguous_prefix_is_refused(ketch_home: Path, workspace: Path, run_ketch):
    make_session(ketch_home, workspace, [("a", "b")], session_id="abc-1")
    make_session(ketch_home, workspace, [("c", "d")], session_id="abc-2")
    run = sessions_cmd(run_ketch, "show", "abc")
    assert run.returncode == 2 and "matches 2 sessions" in run.stderr

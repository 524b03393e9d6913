"""Files that are not plain UTF-8 with LF, end to end (issue 15 items 1 and 5).

Editing a latin-1 file used to put lone surrogates into the conversation: the next request,
every resume and stream-json stdout failed. Edits also mixed LF into CRLF files. The real
`ketch` against the fake model: every request and every stdout byte is valid UTF-8, the
session resumes, and the file keeps its encoding, BOM, line endings and final newline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _edit(file_path: str, old: str, new: str) -> dict:
    return {"name": "Edit", "input": {"file_path": file_path, "old_string": old, "new_string": new}}


def _read(file_path: str) -> dict:
    return {"name": "Read", "input": {"file_path": file_path}}


def _assert_valid_requests(fake) -> None:
    for recorded in fake.requests:
        json.dumps(recorded.body, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate


def test_editing_a_latin1_file_keeps_the_session_working(server, run_ketch, workspace: Path):
    (workspace / "latin1.txt").write_bytes(b"caf\xe9 line\nsecond line\n")
    fake = server([
        {"tool_calls": [_read("latin1.txt")]},
        {"tool_calls": [_edit("latin1.txt", "second line", "2nd line \u00e9")]},
        {"tool_calls": [{"name": "Bash", "input": {"command": "printf 'raw \\351 byte\\n'"}}]},
        {"text": "edited"},
    ])
    run = run_ketch(["-p", "fix", "--output-format", "stream-json", "--permission-mode", "acceptEdits",
                     "--allowedTools", "Bash(printf:*)"], server=fake)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    run.stdout.encode("utf-8")
    [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert (workspace / "latin1.txt").read_bytes() == b"caf\xe9 line\n2nd line \xe9\n"
    assert len(fake.requests) == 4
    shown = json.dumps(fake.requests[1].body)
    assert "caf\\u00e9 line" in shown and "not UTF-8" in shown
    _assert_valid_requests(fake)

    again = server([{"text": "resumed fine"}])
    resumed = run_ketch(["-c", "-p", "and now?", "--output-format", "json"], server=again)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.json()["result"] == "resumed fine"
    _assert_valid_requests(again)


def test_a_model_sending_lone_surrogates_does_not_break_the_session(server, run_ketch, workspace: Path):
    fake = server([
        {"text": "odd \ud800 half"},
    ])
    run = run_ketch(["-p", "x", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    run.stdout.encode("utf-8")
    again = server([{"text": "ok"}])
    assert run_ketch(["-c", "-p", "more", "--output-format", "json"], server=again).returncode == 0
    _assert_valid_requests(again)


@pytest.mark.parametrize("tool", ["Edit", "MultiEdit"])
def test_edits_keep_crlf_bom_and_final_newline(tool, server, run_ketch, workspace: Path):
    f = workspace / "win.txt"
    f.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\nthree\r\n")
    if tool == "Edit":
        change = _edit("win.txt", "two", "two\nand a half")
    else:
        change = {"name": "MultiEdit", "input": {"file_path": "win.txt", "edits": [
            {"old_string": "two", "new_string": "two\nand a half"},
            {"old_string": "three\n", "new_string": "THREE"}]}}
    fake = server([{"tool_calls": [_read("win.txt")]}, {"tool_calls": [change]}, {"text": "ok"}])
    run = run_ketch(["-p", "x", "--output-format", "json", "--permission-mode", "acceptEdits"], server=fake)
    assert run.returncode == 0, run.stderr
    data = f.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in data.replace(b"\r\n", b""), data  # no bare LF anywhere
    assert data.endswith(b"\r\n")
    assert b"two\r\nand a half\r\n" in data


def test_a_character_the_files_encoding_cannot_hold_is_refused_not_mangled(server, run_ketch, workspace: Path):
    f = workspace / "latin1.txt"
    f.write_bytes(b"caf\xe9\n")
    fake = server([{"tool_calls": [_read("latin1.txt")]},
                   {"tool_calls": [_edit("latin1.txt", "caf\u00e9", "\u732b")]}, {"text": "ok"}])
    run = run_ketch(["-p", "x", "--output-format", "json", "--permission-mode", "acceptEdits"], server=fake)
    assert run.returncode == 0, run.stderr
    assert f.read_bytes() == b"caf\xe9\n"
    assert "cannot hold" in json.dumps(fake.requests[2].body)

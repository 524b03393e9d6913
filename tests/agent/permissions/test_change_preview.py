"""The change preview of a permission question (agent/permissions/change_preview.py): exact, bounded, side-effect free."""

from __future__ import annotations

import os
from pathlib import Path

from ketch.agent.permissions.change_preview import PREVIEW_MAX_BYTES, PREVIEW_MAX_LINES, line_diff, preview_change


def test_edit_preview_uses_the_files_context_and_writes_nothing(tmp_path: Path):
    f = tmp_path / "a.py"
    f.write_text("one\ntwo\nthree\nfour\n")
    before = os.stat(f)
    p = preview_change("Edit", {"file_path": str(f), "old_string": "three", "new_string": "3"}, [f])
    assert p is not None and p.lines == ["@@ -1,4 +1,4 @@", " one", " two", "-three", "+3", " four"]
    assert p.summary == "+1 -1 lines"
    assert os.stat(f).st_mtime_ns == before.st_mtime_ns and f.read_text() == "one\ntwo\nthree\nfour\n"
    assert list(tmp_path.iterdir()) == [f]


def test_multiedit_and_replace_all_follow_the_tool(tmp_path: Path):
    f = tmp_path / "a.txt"
    f.write_text("x = 1\ny = x\n")
    p = preview_change("MultiEdit", {"file_path": str(f), "edits": [
        {"old_string": "x", "new_string": "z", "replace_all": True}, {"old_string": "y", "new_string": "w"}]}, [f])
    assert p is not None and "+z = 1" in p.lines and "+w = z" in p.lines


def test_a_call_that_will_fail_says_so_and_shows_what_it_asked(tmp_path: Path):
    f = tmp_path / "a.txt"
    f.write_text("hello\n")
    p = preview_change("Edit", {"file_path": str(f), "old_string": "absent", "new_string": "there"}, [f])
    assert p is not None and p.summary.startswith("the call will fail as it stands: old_string was not found")
    assert "-absent" in p.lines and "+there" in p.lines


def test_write_new_file_and_overwrite(tmp_path: Path):
    new = tmp_path / "new.txt"
    p = preview_change("Write", {"file_path": str(new), "content": "a\nb\n"}, [new])
    assert p is not None and p.lines == ["+a", "+b"] and p.summary == "new file, 2 lines"
    assert not new.exists()
    old = tmp_path / "old.txt"
    old.write_text("a\nb\n")
    p = preview_change("Write", {"file_path": str(old), "content": "a\nc\n"}, [old])
    assert p is not None and "-b" in p.lines and "+c" in p.lines and "replaces the whole file" in p.summary


def test_fifo_large_file_and_undecodable_bytes(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # a FIFO must not hang the question
    p = preview_change("Write", {"file_path": str(fifo), "content": "x"}, [fifo])
    assert p is not None and p.lines == [] and "not a regular file" in p.summary
    big = tmp_path / "big.txt"
    big.write_bytes(b"x\n" * (PREVIEW_MAX_BYTES // 2 + 1))
    p = preview_change("Write", {"file_path": str(big), "content": "y"}, [big])
    assert p is not None and p.lines == [] and "too large" in p.summary
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\nsecond\n")
    p = preview_change("Edit", {"file_path": str(latin), "old_string": "second", "new_string": "2nd"}, [latin])
    assert p is not None and " caf\\xe9" in p.lines and "+2nd" in p.lines
    for line in p.lines:
        line.encode("utf-8")  # valid text for any terminal


def test_long_changes_are_bounded_and_counted():
    _, added, removed = line_diff("", "".join(f"{i}\n" for i in range(5000)))
    assert added == 5000 and removed == 0
    p = preview_change("Write", {"file_path": "/nonexistent/x", "content": "".join(f"{i}\n" for i in range(5000))},
                       [Path("/nonexistent/x")])
    assert p is not None and len(p.lines) == PREVIEW_MAX_LINES and p.more == 5000 - PREVIEW_MAX_LINES


def test_tools_that_change_no_file_get_no_preview():
    assert preview_change("Bash", {"command": "ls"}, []) is None
    assert preview_change("Read", {"file_path": "x"}, [Path("x")]) is None

"""Issue 15.2: an Edit or Write permission question shows the change itself, before the answer.

The real `ketch` REPL in a pseudo-terminal against the fake model: the diff (with the file's
own context lines and line numbers), a new file's content folded after 40 lines with [d] to
see the rest, a Write over an existing file as a diff against it, everything the model sent
escaped, and nothing written before the person says yes.
"""

from __future__ import annotations

from pathlib import Path

APP = "".join(f"# line {i}\n" for i in range(1, 21)) + "def greet(name):\n    return 'hello ' + name\n"


def _wait_count(t, needle: str, n: int, timeout: float = 15) -> None:
    """Until `needle` was printed `n` times: each question repeats the same option lines."""
    import time

    deadline = time.monotonic() + timeout
    while t.printed.count(needle) < n and time.monotonic() < deadline:
        t._pump(0.2)
    assert t.printed.count(needle) >= n, t.printed[-2000:]


def _script(long_content: str) -> list[dict]:
    return [
        {"tool_calls": [{"name": "Read", "input": {"file_path": "app.py"}}]},
        {"tool_calls": [{"name": "Edit", "input": {"file_path": "app.py", "old_string": "return 'hello ' + name",
                                                   "new_string": "return f'hi {name}'"}}]},
        {"tool_calls": [{"name": "Write", "input": {"file_path": "notes.txt", "content": long_content}}]},
        {"tool_calls": [{"name": "Write", "input": {"file_path": "README.md", "content": "# demo\nnew words\n"}}]},
        {"text": "Turn over."},
    ]


def test_edit_and_write_questions_show_the_change_before_the_answer(server, term, workspace: Path):
    (workspace / "app.py").write_text(APP)
    (workspace / "README.md").write_text("# demo\nold words\n")
    long_content = "".join(f"note {i}\n" for i in range(1, 61)).replace(
        "note 7\n", "note 7 \x1b]0;pwned\x07 \u202eevil\n")
    t = term(server(_script(long_content)))
    t.wait_prompt()
    t.send("change things\r")

    t.wait("Edit wants permission", where="printed")
    t.wait("[n] deny", where="printed")
    shown = t.printed
    assert "-    return 'hello ' + name" in shown and "+    return f'hi {name}'" in shown
    assert "@@ -19,4 +19,4 @@" in shown and " # line 20" in shown  # the file's own context and line numbers
    assert "+1 -1 lines" in shown
    assert (workspace / "app.py").read_text() == APP  # nothing written before the answer
    t.send("y")

    t.wait("Write wants permission", where="printed")
    _wait_count(t, "[n] deny", 2)
    t.wait("[d] show the whole change", where="printed")
    shown = t.printed
    assert "new file, 60 lines" in shown
    assert "+note 40" in shown and "+note 41" not in shown and "… 20 more lines" in shown
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202eevil" in shown  # escaped, visible
    assert b"\x1b]0;pwned" not in t.raw and "\u202e".encode() not in t.raw
    assert not (workspace / "notes.txt").exists()
    t.send("d")
    t.wait("+note 60", where="printed")
    t.send("y")

    t.wait("replaces the whole file", where="printed")  # the second Write, over README.md
    _wait_count(t, "[n] deny", 3)
    tail = t.printed[t.printed.rindex("replaces the whole file"):]
    assert "-old words" in tail and "+new words" in tail and " # demo" in tail
    t.send("n")
    t.wait("note for the model", where="printed")
    t.send("\r")
    t.wait("Turn over.", where="printed")
    after = t.printed[t.printed.rindex("Turn over.") - 2000:]
    assert after.count("+new words") <= 1  # the approved diffs are not printed a second time
    assert (workspace / "README.md").read_text() == "# demo\nold words\n"
    assert (workspace / "notes.txt").read_text() == long_content
    assert "return f'hi {name}'" in (workspace / "app.py").read_text()
    t.send("\x04")
    assert t.wait_exit() == 0

"""Resuming a session shows its last exchanges, compactly and escaped, in a real terminal."""

from __future__ import annotations

HOSTILE = "\x1b]0;pwned\x07\x1b[2J"


def _one_session(server, run_ketch):  # type: ignore[no-untyped-def]
    """One session of four exchanges: the first by -p, the rest by -c -p."""
    replies = [
        [{"text": "first answer"}],
        [{"text": "Let me check.", "tool_calls": [{"name": "Bash", "input": {"command": "echo RECAP-CMD"}}]},
         {"text": "All tests pass.\nline two\nline three\nline four\nline five\nline six"}],
        [{"text": f"third answer {HOSTILE} end"}],
        [{"text": "fourth answer"}],
    ]
    for n, (prompt, script) in enumerate(zip(("PROMPT-A", "PROMPT-B run the tests", "PROMPT-C", "PROMPT-D"), replies)):
        args = (["-c"] if n else []) + ["-p", prompt, "--allowedTools", "Bash(echo:*)"]
        run = run_ketch(args, server=server(script))
        assert run.returncode == 0, run.stderr


def _assert_recap(t) -> None:  # type: ignore[no-untyped-def]
    t.wait("resumed here")
    shown = t.printed.split("resumed session")[-1]
    assert "PROMPT-A" not in shown and "1 earlier exchange not shown" in shown  # only the last three
    assert "> PROMPT-B run the tests" in shown and "Bash(echo RECAP-CMD)" in shown
    assert "All tests pass." in shown and "line four" in shown and "line five" not in shown
    assert "2 more lines" in shown
    assert "> PROMPT-D" in shown and "fourth answer" in shown
    assert "\\x1b]0;pwned" in shown  # the escape sequence is shown, not sent to the terminal
    assert b"\x1b]0;pwned" not in t.raw and b"\x1b[2J" not in t.raw


def test_continue_shows_the_last_exchanges(server, run_ketch, term):
    _one_session(server, run_ketch)
    t = term(server([{"text": "ok"}]), ["-c"])
    _assert_recap(t)
    t.wait_prompt()
    t.send("/exit\r")
    assert t.wait_exit() == 0


def test_resume_command_shows_the_last_exchanges(server, run_ketch, term):
    _one_session(server, run_ketch)
    t = term(server([{"text": "ok"}]))
    t.wait_prompt()
    t.send("/resume\r")
    t.wait("number, or words")
    t.send("1\r")
    _assert_recap(t)
    t.wait_prompt()
    t.send("/exit\r")
    assert t.wait_exit() == 0

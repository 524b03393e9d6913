"""Typing while the model works (real pty): Enter queues a message, the rest is the next draft."""

from __future__ import annotations

import json
import time


def _prompts(server) -> list[str]:
    """The last user text of each request the model received."""
    out = []
    for record in server.requests:
        content = record.body["messages"][-1]["content"]
        out.append(content if isinstance(content, str) else " ".join(b.get("text", "") for b in content))
    return out


def test_a_line_typed_during_a_turn_is_sent_after_it_and_a_draft_waits(server, term):
    s = server([{"text": "first answer, slowly", "stall_after": 3}, {"text": "second answer"}])
    t = term(s)
    t.wait_prompt()
    t.send("one\r")
    assert s.stalled.wait(10)
    t.send("two, typed ahead\r")
    t.wait("queued: two, typed ahead")
    t.send("dräft")
    s.release.set()
    t.wait("second answer")
    t.wait("> dräft")  # the unfinished line is waiting at the prompt, editable
    assert [p.split("\n")[0] for p in _prompts(s)] == ["one", "two, typed ahead"]


def test_after_an_interruption_queued_lines_are_not_sent_by_themselves(server, term):
    s = server([{"text": "stalls", "stall_after": 3}, {"text": "never asked"}])
    t = term(s)
    t.wait_prompt()
    t.send("one\r")
    assert s.stalled.wait(10)
    t.send("queued one\r")
    t.wait("queued: queued one")
    t.send("\x1b")
    t.wait("interrupted")
    t.wait("> queued one")  # back in the prompt for the person to send, edit or drop
    assert len(s.requests) == 1
    assert json.dumps(s.requests[0].body).count("queued one") == 0


def test_shift_tab_cycles_the_permission_mode_shown_in_the_prompt(server, term, workspace):
    s = server([{"tool_calls": [{"name": "Write", "input": {"file_path": "new.txt", "content": "hi\n"}}]},
                {"text": "written without asking"}])
    t = term(s)
    t.wait_prompt()
    t.send("\x1b[Z")  # Shift-Tab
    t.wait("accept edits >")
    t.send("write it\r")
    t.wait("written without asking")
    assert "wants permission" not in t.printed
    assert (workspace / "new.txt").read_text() == "hi\n"
    t.wait("accept edits >")
    t.send("\x1b[Z")
    t.wait("plan >")
    t.send("\x1b[Z")
    deadline = time.monotonic() + 10
    while t.screen.display[t.screen.cursor.y].rstrip() != ">":  # back to the default mode: a bare "> "
        assert time.monotonic() < deadline, t.text
        t._pump(0.2)

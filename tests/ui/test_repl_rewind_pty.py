"""/rewind in a real terminal: every prompt is offered; files come in only when some changed."""

from __future__ import annotations

import json


def _last_request(s) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(s.requests[-1].body["messages"])


def test_rewind_offers_every_prompt_and_rewinds_talk_without_asking_about_files(server, term, workspace):
    s = server([
        {"tool_calls": [{"name": "Write", "input": {"file_path": "made.txt", "content": "v1\n"}}]},
        {"text": "WROTE-IT"},
        {"text": "ANSWER-TWO"},
        {"text": "ANSWER-THREE"},
        {"text": "ANSWER-FOUR"},
    ])
    t = term(s, ["--permission-mode", "acceptEdits"])
    t.wait_prompt()
    t.send("PROMPT-ONE write the file\r")
    t.wait("WROTE-IT")
    t.wait_prompt()
    t.send("PROMPT-TWO just talk\r")
    t.wait("ANSWER-TWO")
    t.wait_prompt()
    t.send("/rewind\r")
    t.wait("rewind to before which prompt?")
    assert "1. PROMPT-ONE write the file  · 1 file changed" in t.text
    assert "2. PROMPT-TWO just talk" in t.text
    t.send("2\r")
    t.wait("only the conversation goes back")
    t.wait("conversation rewound to before prompt 2")
    t.wait_prompt()
    assert (workspace / "made.txt").exists()  # the files were not touched
    t.send("PROMPT-THREE\r")
    t.wait("ANSWER-THREE")
    sent = _last_request(s)
    assert "PROMPT-THREE" in sent and "WROTE-IT" in sent
    assert "PROMPT-TWO" not in sent and "ANSWER-TWO" not in sent

    t.wait_prompt()
    t.send("/rewind 1\r")
    t.wait("restore [f]iles, [c]onversation or [b]oth?")
    t.send("b\r")
    t.wait("conversation rewound to before prompt 1")
    t.wait_prompt()
    assert not (workspace / "made.txt").exists()
    t.send("PROMPT-FOUR\r")
    t.wait("ANSWER-FOUR")
    sent = _last_request(s)
    assert "PROMPT-FOUR" in sent and "PROMPT-ONE" not in sent and "PROMPT-THREE" not in sent
    t.send("/exit\r")
    assert t.wait_exit() == 0


def test_rewind_in_a_conversation_that_changed_no_files(server, term):
    s = server([{"text": "FIRST-ANSWER"}, {"text": "AGAIN"}])
    t = term(s)
    t.wait_prompt()
    t.send("hello there\r")
    t.wait("FIRST-ANSWER")
    t.wait_prompt()
    t.send("/rewind 1\r")
    t.wait("conversation rewound to before prompt 1 (0 messages kept)")
    t.wait_prompt()
    t.send("fresh\r")
    t.wait("AGAIN")
    assert "FIRST-ANSWER" not in _last_request(s) and "hello there" not in _last_request(s)

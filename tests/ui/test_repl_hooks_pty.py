"""The REPL and a project's hooks: every command shown, the set approved once, /hooks lists them."""

from __future__ import annotations

import json
from pathlib import Path


def test_a_projects_hooks_are_shown_approved_once_and_listed(server, term, ketch_home: Path, workspace: Path):
    marker = ketch_home / "prompt-hook-ran"
    (workspace / ".claude").mkdir()
    (workspace / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"UserPromptSubmit": [
        {"hooks": [{"type": "command", "command": f"touch {marker} # \x1b[31mred"}]}]}}))
    t = term(server([{"text": "Hello there."}]), args=["--trust"])
    t.wait("hook(s) you have not approved", where="printed")
    t.wait("approve these hooks and run them? [y/N]")
    assert f"touch {marker}" in t.printed and "\x1b[31m" not in t.printed  # shown, escaped
    t.send("y\r")
    t.wait("approved (kept in")
    t.wait_prompt()
    t.send("/hooks\r")
    t.wait("UserPromptSubmit: touch", where="printed")
    assert ".claude/settings.json" in t.printed
    t.wait_prompt()
    t.send("hi\r")
    t.wait("Hello there.")
    assert marker.exists()
    t.send("\x04")
    assert t.wait_exit() == 0
    again = term(server([]))
    again.wait_prompt()
    assert "approve these hooks" not in again.printed
    again.send("\x04")
    assert again.wait_exit() == 0

"""What a project folder brings to the interactive session, driven in a real 80x24 pseudo-terminal:
the folder-trust question (its answer decides whether the project's allow rules apply) and the
project's custom slash commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _trusted(ketch_home: Path) -> list[str]:
    store = ketch_home / "trusted-folders.json"
    return list(json.loads(store.read_text())["folders"]) if store.exists() else []


@pytest.fixture
def project_allows_write(workspace: Path) -> Path:
    """A cloned repository whose settings would let the model write files without asking."""
    (workspace / ".ketch").mkdir()
    (workspace / ".ketch" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Write"]}}))
    return workspace


WRITE_SCRIPT = [
    {"text": "", "tool_calls": [{"name": "Write", "input": {"file_path": "notes.txt", "content": "hi\n"}}]},
    {"text": "Turn over."},
]


def test_untrusted_answer_keeps_the_projects_allow_rules_off(server, term, ketch_home, project_allows_write):
    ws = project_allows_write
    t = term(server(WRITE_SCRIPT))
    t.wait("trust this folder? [y/N]")
    t.send("n\r")
    t.wait_prompt()
    assert "not applied" in t.printed and "folder not trusted" in t.printed
    t.send("write the notes\r")
    t.wait("Write wants permission")  # the project's `allow: Write` did not apply
    t.wait("[n] deny")
    t.send("n")
    t.wait("note for the model")
    t.send("\r")
    t.wait("Turn over.")
    assert not (ws / "notes.txt").exists()
    assert str(ws.resolve()) not in _trusted(ketch_home)
    t.send("\x04")
    assert t.wait_exit() == 0


def test_trusting_the_folder_records_it_and_applies_the_rule(server, term, ketch_home, project_allows_write):
    ws = project_allows_write
    t = term(server(WRITE_SCRIPT))
    t.wait("trust this folder? [y/N]")
    t.send("y\r")
    t.wait("trusted")
    t.wait_prompt()
    assert _trusted(ketch_home) == [str(ws.resolve())]
    t.send("write the notes\r")
    t.wait("Turn over.")
    assert "wants permission" not in t.printed  # allowed by the project's rule, now in force
    assert (ws / "notes.txt").read_text() == "hi\n"
    t.send("\x04")
    assert t.wait_exit() == 0


def test_a_custom_command_completes_and_sends_its_expanded_prompt(server, term, ketch_home, workspace):
    commands = workspace / ".ketch" / "commands"
    commands.mkdir(parents=True)
    (commands / "review.md").write_text("---\ndescription: Review one file\n---\nReview $1 with care: $ARGUMENTS\n")
    (ketch_home / "commands").mkdir()
    (ketch_home / "commands" / "standup.md").write_text("Summarise my day.")
    s = server([{"text": "Reviewed."}])
    t = term(s)
    t.wait_prompt()
    t.send("/rev")
    t.wait("Review one file")  # the completion menu, with the file's description
    t.send("iew src/app.py quickly\r")
    t.wait("Reviewed.")
    assert "Review src/app.py with care: src/app.py quickly" in json.dumps(s.requests[0].body)
    t.wait_prompt()
    t.send("/help\r")
    t.wait("custom commands")
    t.wait("/standup")
    t.send("\x04")
    assert t.wait_exit() == 0

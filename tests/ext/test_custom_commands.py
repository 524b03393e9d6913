"""Custom slash commands from markdown files: loading, naming, arguments, bad files, the REPL glue."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from ketch.ext.custom_commands import expand, load_commands, split_front_matter
from ketch.ui.commands import default_registry
from ketch.ui.commands.custom import register_custom


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    ws, home = tmp_path / "ws", tmp_path / "ketch-home"
    (ws / ".ketch" / "commands").mkdir(parents=True)
    (home / "commands").mkdir(parents=True)
    return ws, home


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _load(ws: Path, home: Path):
    warnings: list[str] = []
    return load_commands(ws, home, warnings.append), warnings


def test_both_folders_load_the_project_wins_and_folders_make_namespaces(dirs):
    ws, home = dirs
    _write(home / "commands" / "review.md", "USER review")
    _write(home / "commands" / "standup.md",
           "---\ndescription: \"What I did\"\nargument-hint: [days]\n---\nList my work.")
    _write(ws / ".ketch" / "commands" / "review.md", "PROJECT review of $ARGUMENTS")
    _write(ws / ".ketch" / "commands" / "git" / "pr.md", "# Open a pull request\nDo it.")
    _write(ws / ".ketch" / "commands" / "notes.txt", "not a command")
    _write(ws / ".ketch" / "commands" / ".hidden.md", "hidden")
    commands, warnings = _load(ws, home)
    assert sorted(commands) == ["git:pr", "review", "standup"]
    assert commands["review"].source == "project" and commands["review"].body.startswith("PROJECT")
    assert commands["standup"].description == "What I did" and commands["standup"].argument_hint == "[days]"
    assert commands["standup"].body == "List my work."
    assert commands["git:pr"].description == "Open a pull request"  # no front matter: the first line
    assert warnings == []


def test_front_matter_is_optional_and_only_closed_blocks_count():
    meta, body = split_front_matter("---\ndescription: x\nmodel: y\n---\n\nbody")
    assert (meta, body) == ({"description": "x", "model": "y"}, "body")
    assert split_front_matter("---\ndescription: x\nno end") == ({}, "---\ndescription: x\nno end")
    assert split_front_matter("\ufeffplain") == ({}, "plain")


@pytest.mark.parametrize("template,args,sent", [
    ("Review $ARGUMENTS now", "src/a.py fast", "Review src/a.py fast now"),
    ("Move $1 to $2", "'old name.py' new.py", "Move old name.py to new.py"),
    ("Fix $1 and $3", "a", "Fix a and"),                           # missing words are empty
    ("Explain $ARGUMENTS", "the $1 and $ARGUMENTS text", "Explain the $1 and $ARGUMENTS text"),  # one pass
    ("Summarise the diff", "briefly", "Summarise the diff\n\nARGUMENTS: briefly"),   # never dropped
    ("Summarise the diff", "", "Summarise the diff"),
    ("Quote $1", "it's", "Quote it's"),                             # an unclosed quote still gives words
    ("Cost: $5 or $ARGUMENTS", "x", "Cost:  or x"),                 # `$5` is the fifth word, as in Claude Code
])
def test_arguments_fill_the_template(template, args, sent):
    assert expand(template, args) == sent


def test_bad_files_are_skipped_with_one_line_each(dirs):
    ws, home = dirs
    folder = ws / ".ketch" / "commands"
    _write(folder / "good.md", "fine")
    _write(folder / "latin1.md", "caf\xe9".encode("latin-1"))
    os.symlink(folder / "missing-target.md", folder / "dangling.md")
    os.mkfifo(folder / "pipe.md")
    _write(folder / "big.md", "x" * (200 * 1024))
    _write(folder / "bad name.md", "spaces")
    commands, warnings = _load(ws, home)
    assert sorted(commands) == ["good"]
    assert len(warnings) == 5 and all("\n" not in w for w in warnings)
    joined = "\n".join(warnings)
    for reason in ("not UTF-8", "cannot read", "not a regular file", "larger than", "command name"):
        assert reason in joined


def test_a_project_command_cannot_point_outside_the_project(dirs, tmp_path):
    ws, home = dirs
    secret = _write(tmp_path / "secrets" / "credentials", "AKIA-SECRET")
    os.symlink(secret, ws / ".ketch" / "commands" / "review.md")
    _write(ws / ".env", "DB_PASSWORD=hunter2")
    os.symlink(ws / ".env", ws / ".ketch" / "commands" / "env.md")
    _write(ws / ".ketch" / "commands" / "check.md", "Check the list")
    os.symlink(ws / ".ketch" / "commands" / "check.md", ws / ".ketch" / "commands" / "c.md")  # an alias: fine
    os.symlink(secret, home / "commands" / "mine.md")  # the user's own folder: their choice
    commands, warnings = _load(ws, home)
    assert "review" not in commands and "env" not in commands
    assert commands["c"].body == "Check the list" and "mine" in commands
    assert len(warnings) == 2 and all("outside the project's commands folder" in w for w in warnings)


def test_a_project_commands_folder_linked_elsewhere_is_refused(tmp_path):
    ws, home = tmp_path / "ws", tmp_path / "home"
    (ws / ".ketch").mkdir(parents=True)
    _write(tmp_path / "elsewhere" / "x.md", "outside")
    os.symlink(tmp_path / "elsewhere", ws / ".ketch" / "commands")
    commands, warnings = _load(ws, home)
    assert commands == {} and len(warnings) == 1


# -- in the REPL --------------------------------------------------------------------------------


class _FakeRepl:
    def __init__(self, registry) -> None:
        self.commands = registry
        self.lines: list[str] = []
        self.sent: list[str] = []
        self.r = SimpleNamespace(line=lambda t, s="": self.lines.append(t), info=self.lines.append,
                                 warn=self.lines.append, error=self.lines.append)

    def run_prompt(self, text: str) -> None:
        self.sent.append(text)


def test_the_registry_lists_dispatches_and_rereads_them(dirs):
    ws, home = dirs
    path = _write(ws / ".ketch" / "commands" / "review.md",
                  "---\ndescription: Review a file\n---\nReview $1 ($ARGUMENTS)")
    _write(ws / ".ketch" / "commands" / "exit.md", "a project must not replace /exit")
    warnings: list[str] = []
    registry = default_registry()
    assert register_custom(registry, ws, home, warnings.append) == 1
    assert any("/exit" in w and "built-in" in w for w in warnings)
    assert registry.get("exit").source == ""
    assert ("review", "Review a file (project)") in registry.names()  # what completion lists
    repl = _FakeRepl(registry)
    assert registry.dispatch(repl, "/review src/app.py carefully")
    assert repl.sent == ["Review src/app.py (src/app.py carefully)"]
    path.write_text("Now: $ARGUMENTS")  # edited while ketch runs
    registry.dispatch(repl, "/review\nline two")
    assert repl.sent[-1] == "Now: line two"
    registry.dispatch(repl, "/help")
    assert any(line.startswith("  /review") and "Review a file (project)" in line for line in repl.lines)
    assert any("custom commands" in line for line in repl.lines)


def test_completion_offers_custom_commands_with_their_description(dirs):
    from prompt_toolkit.document import Document

    from ketch.ui.input import make_completer
    from ketch.ui.mentions import ProjectFiles

    ws, home = dirs
    _write(home / "commands" / "frontend" / "test.md", "---\ndescription: Run the UI tests\n---\nRun them")
    registry = default_registry()
    register_custom(registry, ws, home, lambda w: None)
    completer = make_completer(registry.names, ProjectFiles(ws))
    found = list(completer.get_completions(Document("/front"), None))
    assert [c.text for c in found] == ["/frontend:test"]
    assert "Run the UI tests (user)" in str(found[0].display_meta)


def test_a_description_cannot_carry_terminal_escapes(dirs):
    ws, home = dirs
    _write(ws / ".ketch" / "commands" / "x.md", "---\ndescription: a\x1b]0;pwned\x07b\n---\nbody")
    commands, _ = _load(ws, home)
    assert "\x1b" not in commands["x"].description and "\\x1b" in commands["x"].description


def test_headless_runs_expand_a_custom_command(server, run_ketch, workspace):
    folder = workspace / ".ketch" / "commands"
    folder.mkdir(parents=True)
    (folder / "review.md").write_text("---\ndescription: review a file\n---\nReview $ARGUMENTS for bugs.\n")
    fake = server([{"text": "looks fine"}, {"text": "a path"}])
    run = run_ketch(["-p", "/review src/app.py"], server=fake)
    assert run.returncode == 0, run.stderr
    assert "Review src/app.py for bugs." in json.dumps(fake.requests[0].body)
    run = run_ketch(["-p", "/etc/hosts: what is it?"], server=fake)  # not a command: sent as written
    assert "/etc/hosts: what is it?" in json.dumps(fake.requests[1].body)


def test_claude_commands_load_beside_ketch_ones_and_ketch_wins_told_once(dirs):
    ws, home = dirs
    _write(ws / ".claude" / "commands" / "x.md", "CLAUDE x $ARGUMENTS")
    _write(ws / ".claude" / "commands" / "both.md", "CLAUDE both")
    _write(ws / ".ketch" / "commands" / "both.md", "KETCH both")
    _write(home / "commands" / "x.md", "USER x")
    commands, warnings = _load(ws, home)
    assert commands["x"].body == "CLAUDE x $ARGUMENTS" and commands["x"].source == "project"
    assert commands["both"].body == "KETCH both"
    assert warnings == ["/both: .ketch/commands/both.md is used, not .claude/commands/both.md"]


def test_a_claude_command_linked_out_of_the_project_is_refused(dirs, tmp_path: Path):
    ws, home = dirs
    secret = _write(tmp_path / "outside" / "id_rsa", "PRIVATE")
    (ws / ".claude" / "commands").mkdir(parents=True)
    os.symlink(secret, ws / ".claude" / "commands" / "leak.md")
    commands, warnings = _load(ws, home)
    assert "leak" not in commands and "points outside" in warnings[0]

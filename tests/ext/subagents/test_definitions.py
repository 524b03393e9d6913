"""Agent definitions: parsing, one-line errors naming the file, precedence, --agents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketch.errors import ConfigError
from ketch.ext.subagents.definitions import DefinitionError, load_definitions, parse_cli_agents, parse_definition
from ketch.ext.subagents.task import MAX_DEPTH, child_tools

REVIEWER = """---
name: reviewer
description: Reviews diffs.
tools: Read, Grep
model: haiku
---
You review code.
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _load(tmp_path: Path, cli: list[str] | None = None) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    found = load_definitions(tmp_path / "project", tmp_path / "khome", cli or [], warnings.append,
                             home=tmp_path / "home")
    return found, warnings


def test_parses_front_matter_and_body() -> None:
    d = parse_definition(REVIEWER, "r.md", "project", "r.md")
    assert (d.name, d.description, d.tools, d.model, d.prompt) == (
        "reviewer", "Reviews diffs.", ("Read", "Grep"), "haiku", "You review code.\n")


def test_tools_as_a_yaml_list_and_omitted() -> None:
    listed = parse_definition("---\nname: a\ndescription: d\ntools:\n  - Read\n  - Bash(git diff:*)\n---\nbody",
                              "a.md", "user", "")
    assert listed.tools == ("Read", "Bash")
    inline = parse_definition("---\nname: a\ndescription: d\ntools: [Glob, 'Grep']\n---\nbody", "a.md", "user", "")
    assert inline.tools == ("Glob", "Grep")
    assert parse_definition("---\nname: a\ndescription: d\n---\nbody", "a.md", "user", "").tools is None


@pytest.mark.parametrize(("text", "message"), [
    ("name: a\n", "no front matter"),
    ("---\nname: a\ndescription: d\nbody\n", "no closing '---'"),
    ("---\ndescription: d\n---\nbody", "has no 'name'"),
    ("---\nname: a b\ndescription: d\n---\nbody", "may use only letters"),
    ("---\nname: a\n---\nbody", "has no 'description'"),
    ("---\nname: a\ndescription: d\n---\n\n", "has no system prompt"),
    ("---\nname: a\ndescription: d\n  indented: x\n---\nbody", "line 4: expected 'key: value'"),
    ("---\nname: a\ndescription: d\ntools: Read, rm -rf\n---\nbody", "'rm -rf' is not a tool name"),
    ("---\nname: a\ndescription: d\nmodel: openai:gpt-5\n---\nbody", "a project's agent may name"),
])
def test_errors_are_one_line_and_name_the_file(text: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "/p/.ketch/agents/a.md", "project", "/p/.ketch/agents/a.md")
    assert str(caught.value).startswith("/p/.ketch/agents/a.md: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_users_agent_may_name_another_provider() -> None:
    assert parse_definition("---\nname: a\ndescription: d\nmodel: openai:gpt-5\n---\nbody", "a.md", "user",
                            "").model == "openai:gpt-5"


def test_built_ins_are_always_there(tmp_path: Path) -> None:
    found, warnings = _load(tmp_path)
    assert list(found) == ["general-purpose", "Explore"] and warnings == []
    assert found["Explore"].tools == ("Read", "Grep", "Glob")
    assert found["general-purpose"].tools is None


def test_precedence_user_project_ketch_over_claude_then_cli(tmp_path: Path) -> None:
    def agent(name: str, prompt: str) -> str:
        return f"---\nname: {name}\ndescription: {prompt}\n---\n{prompt}\n"

    _write(tmp_path / "home" / ".claude" / "agents", "r.md", agent("reviewer", "claude-user"))
    _write(tmp_path / "khome" / "agents", "r.md", agent("reviewer", "ketch-user"))
    _write(tmp_path / "khome" / "agents", "only.md", agent("only-user", "mine"))
    found, warnings = _load(tmp_path)
    assert found["reviewer"].prompt == "ketch-user\n" and found["only-user"].source == "user"
    assert warnings == []

    claude = _write(tmp_path / "project" / ".claude" / "agents", "r.md", agent("reviewer", "claude-project"))
    found, warnings = _load(tmp_path)
    assert found["reviewer"].prompt == "claude-project\n" and found["reviewer"].source == "project"
    assert warnings == []  # a project's .claude/ over the user's own: no clash to report

    ketch = _write(tmp_path / "project" / ".ketch" / "agents", "r.md", agent("reviewer", "ketch-project"))
    found, warnings = _load(tmp_path)
    assert found["reviewer"].prompt == "ketch-project\n"
    assert warnings == [f"agent 'reviewer': {ketch} is used, not {claude}"]

    cli = json.dumps({"reviewer": {"description": "from the flag", "prompt": "cli", "tools": ["Read"]}})
    found, _ = _load(tmp_path, [cli])
    assert (found["reviewer"].prompt, found["reviewer"].source, found["reviewer"].tools) == ("cli\n", "cli", ("Read",))


def test_a_project_file_that_points_outside_is_refused(tmp_path: Path) -> None:
    secret = _write(tmp_path / "elsewhere", "notes.md", REVIEWER)
    folder = tmp_path / "project" / ".claude" / "agents"
    folder.mkdir(parents=True)
    (folder / "reviewer.md").symlink_to(secret)
    _write(folder, "broken.md", "---\nname: broken\n---\nbody")
    found, warnings = _load(tmp_path)
    assert "reviewer" not in found and "broken" not in found
    assert len(warnings) == 2
    assert "broken.md: agent 'broken' has no 'description'" in warnings[0]
    assert "reviewer.md: it points outside" in warnings[1]


@pytest.mark.parametrize(("value", "message"), [
    ("{not json", "--agents: not valid JSON"),
    ('["a"]', "expected a JSON object"),
    ('{"a": {"description": "d"}}', "needs a \"prompt\""),
    ('{"a": {"prompt": "p"}}', "has no 'description'"),
    ('{"a": {"description": "d", "prompt": "p", "tools": 3}}', "tools must be"),
])
def test_bad_agents_flag_is_a_config_error(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_cli_agents(value)
    assert message in str(caught.value)


def test_child_tools_never_exceed_the_parent_and_stop_at_the_depth_limit() -> None:
    parent = ["Read", "Grep", "Edit", "Task"]
    wants_more = parse_definition("---\nname: a\ndescription: d\ntools: Read, Bash, Task\n---\nb", "a", "user", "")
    assert child_tools(wants_more, parent, 1) == ["Read", "Task"]
    assert child_tools(wants_more, parent, MAX_DEPTH) == ["Read"]
    everything = parse_definition("---\nname: a\ndescription: d\n---\nb", "a", "user", "")
    assert child_tools(everything, parent, 1) == ["Read", "Grep", "Edit"]  # all but Task

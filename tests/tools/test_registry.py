"""registry and paths: the tool set the model sees, and how its paths are read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ketch.tools.base import ToolError
from ketch.tools.paths import is_inside, resolve
from ketch.tools.registry import default_tools, tool_by_name

EXPECTED_KINDS = {
    "Read": "read",
    "Glob": "read",
    "Grep": "read",
    "Write": "edit",
    "Edit": "edit",
    "MultiEdit": "edit",
    "Bash": "execute",
    "TodoWrite": "other",
}

CLAUDE_CODE_FIELDS = {
    "Read": {"file_path", "offset", "limit"},
    "Write": {"file_path", "content"},
    "Edit": {"file_path", "old_string", "new_string", "replace_all"},
    "MultiEdit": {"file_path", "edits"},
    "Bash": {"command", "timeout", "description"},
    "Glob": {"pattern", "path"},
    "Grep": {"pattern", "path", "glob", "output_mode", "-B", "-A", "-C", "-n", "-i", "type", "head_limit", "multiline"},
    "TodoWrite": {"todos"},
}


def test_names_kinds_and_claude_code_fields() -> None:
    tools = default_tools()
    assert {t.name: t.kind for t in tools} == EXPECTED_KINDS
    for tool in tools:
        definition = tool.definition()
        assert definition.name == tool.name
        assert set(definition.input_schema["properties"]) == CLAUDE_CODE_FIELDS[tool.name]
        assert definition.description and not definition.description.startswith(" ")
        if tool.kind == "edit":
            assert callable(tool.paths)


def test_definitions_stay_small() -> None:
    total = 0
    for tool in default_tools():
        d = tool.definition()
        size = len(d.description.encode()) + len(json.dumps(d.input_schema, separators=(",", ":")))
        assert len(d.description.encode()) <= 1200, d.name
        total += size
    assert total < 14_000


def test_tool_by_name() -> None:
    assert tool_by_name("Grep").name == "Grep"  # type: ignore[union-attr]
    assert tool_by_name("grep") is None
    assert tool_by_name("Bash", []) is None


def test_resolve_relative_absolute_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("a/../b.txt", tmp_path) == tmp_path.resolve() / "b.txt"
    assert resolve("/etc/../etc/hosts", tmp_path) == Path(os.path.realpath("/etc/hosts"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve("~/x", Path("/")) == tmp_path.resolve() / "x"
    for bad in ("", "   ", None, 3, "a\x00b"):
        with pytest.raises(ToolError):
            resolve(bad, tmp_path)


def test_resolve_follows_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "escape").symlink_to(outside)
    resolved = resolve("escape/secret.txt", ws)
    assert resolved == outside.resolve() / "secret.txt"
    assert not is_inside(resolved, ws)


def test_is_inside_compares_components_not_prefixes(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app-secrets").mkdir()
    assert is_inside(tmp_path / "app", tmp_path / "app")
    assert is_inside(tmp_path / "app" / "x" / "y", tmp_path / "app")
    assert not is_inside(tmp_path / "app-secrets" / "k", tmp_path / "app")
    assert not is_inside(tmp_path / "app" / ".." / "app-secrets", tmp_path / "app")
    assert is_inside("/", "/") and is_inside(tmp_path, "/")

"""Hook settings: Claude Code's shape, matchers, layers, trust and approval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketch.errors import ConfigError
from ketch.ext.hooks.approvals import approve_hooks
from ketch.ext.hooks.config import HookSet, load_hooks, matches, parse_hooks


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.setenv("KETCH_MANAGED_SETTINGS", str(tmp_path / "managed.json"))
    return home


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def hooks_of(event: str, command: str, matcher: str = "", **entry: object) -> dict[str, object]:
    return {"hooks": {event: [{"matcher": matcher, "hooks": [{"type": "command", "command": command, **entry}]}]}}


@pytest.mark.parametrize(("matcher", "tool", "hit"), [
    ("", "Bash", True), ("*", "mcp__x__y", True), ("Bash", "Bash", True), ("Bash", "BashOutput", False),
    ("Edit|Write", "Write", True), ("Edit|Write", "MultiEdit", False), ("Notebook.*", "NotebookEdit", True),
    ("mcp__github__.*", "mcp__github__search", True), ("mcp__github__.*", "mcp__gitlab__search", False),
    ("^Read$", "Read", True), ("(", "Read", False),
])
def test_matchers_follow_claude_code(matcher: str, tool: str, hit: bool) -> None:
    assert matches(matcher, tool) is hit


def test_parse_reads_timeouts_and_reports_each_problem_in_one_line() -> None:
    data = {"hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "a", "timeout": 5},
                                                      {"type": "prompt", "prompt": "x"},
                                                      {"type": "command", "command": "b", "timeout": -1}]}],
        "PostToolUse": {"matcher": "x"},
        "BeforeEverything": [],
    }}
    hooks, problems = parse_hooks(data, "s.json", "user")
    assert [(h.event, h.matcher, h.command, h.timeout_s) for h in hooks] == [("PreToolUse", "Bash", "a", 5.0)]
    assert len(problems) == 4 and all(p.startswith("s.json: hooks.") for p in problems)
    assert any("only \"command\"" in p for p in problems) and any("unknown event" in p for p in problems)
    assert any("timeout must be a positive number" in p for p in problems)


def test_identical_commands_run_once() -> None:
    hooks, _ = parse_hooks({"hooks": {"PreToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": "same"}]},
        {"matcher": "*", "hooks": [{"type": "command", "command": "same"}, {"type": "command", "command": "other"}]},
    ]}}, "s", "user")
    assert [h.command for h in HookSet(active=hooks).matching("PreToolUse", "Bash")] == ["same", "other"]
    assert [h.command for h in HookSet(active=hooks).matching("PreToolUse", "Read")] == ["same", "other"]
    assert HookSet(active=hooks).matching("PostToolUse", "Bash") == []


def test_the_persons_files_run_and_their_mistakes_are_errors(home: Path, ws: Path) -> None:
    (home / "settings.json").write_text(json.dumps(hooks_of("Stop", "mine")))
    assert [h.command for h in load_hooks(ws, trusted=False).active] == ["mine"]
    (home / "settings.json").write_text(json.dumps(hooks_of("Stop", "")))
    with pytest.raises(ConfigError, match="command must be a non-empty string"):
        load_hooks(ws, trusted=False)


def test_project_hooks_need_trust_then_approval_of_the_exact_set(home: Path, ws: Path) -> None:
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").write_text(json.dumps(hooks_of("PreToolUse", "lint", "Edit")))
    (ws / ".ketch").mkdir()
    (ws / ".ketch" / "settings.local.json").write_text(json.dumps(hooks_of("Stop", "check")))
    untrusted = load_hooks(ws, trusted=False)
    assert untrusted.active == [] and untrusted.pending == [] and "not trusted" in untrusted.notices[0]
    pending = load_hooks(ws, trusted=True).pending
    assert sorted(h.command for h in pending) == ["check", "lint"]
    approve_hooks(ws, pending)
    assert sorted(h.command for h in load_hooks(ws, trusted=True).active) == ["check", "lint"]
    (ws / ".claude" / "settings.json").write_text(json.dumps(hooks_of("PreToolUse", "lint", "Edit|Write")))
    changed = load_hooks(ws, trusted=True)
    assert changed.active == [] and len(changed.pending) == 2


def test_a_projects_broken_hooks_are_notices_not_errors(home: Path, ws: Path) -> None:
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").write_text('{"hooks": {"Stop": [{"hooks": [{"command": 3}]}]}}')
    found = load_hooks(ws, trusted=True)
    assert found.pending == [] and any("command must be a non-empty string" in n for n in found.notices)


def test_a_project_file_symlinked_out_of_the_project_is_not_read(home: Path, ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps(hooks_of("Stop", "evil")))
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").symlink_to(outside)
    found = load_hooks(ws, trusted=True)
    assert found.pending == [] and found.active == [] and "not read for hooks" in found.notices[0]


def test_disable_all_hooks_reaches_its_layer_and_below_and_managed_only(home: Path, ws: Path, tmp_path: Path) -> None:
    (home / "settings.json").write_text(json.dumps(hooks_of("Stop", "mine")))
    (ws / ".ketch").mkdir()
    (ws / ".ketch" / "settings.json").write_text(json.dumps({**hooks_of("Stop", "theirs"), "disableAllHooks": True}))
    found = load_hooks(ws, trusted=True)  # a project's switches off its own hooks, never the person's
    assert [h.command for h in found.active] == ["mine"] and found.pending == []
    assert found.disabled_by == str(ws / ".ketch" / "settings.json")
    (home / "settings.json").write_text(json.dumps({**hooks_of("Stop", "mine"), "disableAllHooks": True}))
    (tmp_path / "managed.json").write_text(json.dumps(hooks_of("Stop", "admin")))
    found = load_hooks(ws, trusted=True)  # the person's switches off theirs and the project's, not managed ones
    assert [h.command for h in found.active] == ["admin"] and found.disabled_by == str(home / "settings.json")
    (home / "settings.json").write_text(json.dumps(hooks_of("Stop", "mine")))
    (ws / ".ketch" / "settings.json").unlink()
    (tmp_path / "managed.json").write_text(json.dumps({**hooks_of("Stop", "admin"), "allowManagedHooksOnly": True}))
    assert [h.command for h in load_hooks(ws, trusted=False).active] == ["admin"]

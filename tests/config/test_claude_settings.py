"""A Claude Code project's `.claude/settings*.json`: read as project layers, below `.ketch/`'s, tighten-only until trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketch.config.policy import load_policy


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "ketch-home"))
    monkeypatch.setenv("KETCH_MANAGED_SETTINGS", str(tmp_path / "managed.json"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    workspace = tmp_path / "ws"
    (workspace / ".claude").mkdir(parents=True)
    (workspace / ".ketch").mkdir()
    return workspace


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))


def test_claude_deny_and_ask_rules_apply_untrusted_and_allow_is_held_back(ws):
    _write(ws / ".claude" / "settings.json", {"permissions": {"deny": ["Bash(rm:*)"], "ask": ["Edit"],
                                                              "allow": ["Bash"], "defaultMode": "bypassPermissions"},
                                              "hooks": {"PreToolUse": []}})
    _write(ws / ".claude" / "settings.local.json", {"permissions": {"deny": ["Read(./secret/**)"]}})
    policy = load_policy(ws, trusted=False)
    assert [(r.rule, r.layer) for r in policy.deny] == [("Read(./secret/**)", "claude-local"),
                                                        ("Bash(rm:*)", "claude-project")]
    assert [r.rule for r in policy.ask] == ["Edit"] and policy.allow == []
    assert policy.default_mode is None
    assert "allow rule Bash from .claude/settings.json (folder not trusted)" in policy.ignored
    assert policy.warnings == []  # Claude Code's own keys (hooks) pass in silence


def test_trusted_claude_settings_may_allow(ws):
    _write(ws / ".claude" / "settings.json", {"permissions": {"allow": ["Bash(npm test:*)"]}})
    policy = load_policy(ws, trusted=True)
    assert [(r.rule, r.layer) for r in policy.allow] == [("Bash(npm test:*)", "claude-project")]


def test_ketch_settings_win_the_mode_and_model_over_claudes(ws):
    _write(ws / ".claude" / "settings.json", {"model": "claude-model", "permissions": {"defaultMode": "plan"}})
    _write(ws / ".ketch" / "settings.json", {"model": "ketch-model", "permissions": {"defaultMode": "acceptEdits"}})
    policy = load_policy(ws, trusted=True)
    assert (policy.model, policy.model_layer) == ("ketch-model", "project")
    assert (policy.default_mode, policy.default_mode_layer) == ("acceptEdits", "project")


def test_claude_code_user_settings_are_not_a_project_when_run_from_home(ws, monkeypatch):
    monkeypatch.setenv("HOME", str(ws))
    _write(ws / ".claude" / "settings.json", {"permissions": {"deny": ["Bash"]}})
    assert load_policy(ws, trusted=False).deny == []

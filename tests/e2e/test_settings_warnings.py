"""Issue 15.4: settings that mean nothing are said out loud; a deny that can never match stops the run.

The real `ketch` against the fake model: unknown keys and allow rules naming no tool are one
warning each, naming the file and the closest valid spelling, and the run goes on; a deny
(or ask) rule that can never match, or a misspelt deny list, is a one-line error before any
request is made, so the command it was meant to stop never runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RM = [{"tool_calls": [{"name": "Bash", "input": {"command": "rm -f precious"}}]}, {"text": "done"}]


def _user_settings(ketch_home: Path, data: dict) -> Path:
    path = ketch_home / "settings.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def test_unknown_keys_and_dead_allow_rules_are_one_warning_each(run_ketch, server, ketch_home):
    path = _user_settings(ketch_home, {"modle": "x", "permissions": {"alow": ["Read"],
                                                                      "allow": ["Bsh(npm test:*)"]},
                                       "hooks": {}, "sandbox": {"enabled": True}})  # Claude Code's: silent
    run = run_ketch(["-p", "hi"], server=server([{"text": "hello"}]))
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("ketch: warning:")]
    assert len(warnings) == 3, run.stderr
    assert all(str(path) in w for w in warnings)
    assert 'unknown key "modle" is ignored (did you mean "model"?)' in warnings[0]
    assert 'unknown key "permissions.alow" is ignored (did you mean "allow"?)' in warnings[1]
    assert "'Bsh(npm test:*)' names no tool" in warnings[2] and '"Bash(npm test:*)"' in warnings[2]
    assert "hooks" not in run.stderr and "enabled" not in run.stderr


@pytest.mark.parametrize("deny, fragment", [
    ({"deny": ["bash(rm:*)"]}, 'names no tool (tool names are case-sensitive): did you mean "Bash(rm:*)"?'),
    ({"deny": ["Bsh(rm:*)"]}, 'did you mean "Bash(rm:*)"?'),
    ({"ask": ["bash(rm:*)"]}, "ask rule 'bash(rm:*)'"),
    ({"deny": ["TodoWrite(*.md)"]}, "takes no path or command"),
    ({"deni": ["Bash(rm:*)"]}, 'unknown key "permissions.deni" (did you mean "deny"?)'),
])
def test_a_deny_that_can_never_match_stops_the_run_before_anything_runs(run_ketch, server, ketch_home, workspace,
                                                                       deny, fragment):
    path = _user_settings(ketch_home, {"permissions": deny})
    (workspace / "precious").write_text("keep\n")
    fake = server(RM)
    run = run_ketch(["-p", "clean up", "--permission-mode", "bypassPermissions"], server=fake)
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1 and str(path) in run.stderr and fragment in run.stderr, run.stderr
    assert fake.requests == [] and (workspace / "precious").exists()


def test_a_projects_broken_deny_stops_the_run_even_untrusted(run_ketch, server, workspace):
    (workspace / ".ketch").mkdir()
    (workspace / ".ketch" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["read(.env)"]}}))
    run = run_ketch(["-p", "hi"], server=server([{"text": "hello"}]))
    assert run.returncode == 2 and ".ketch/settings.json" in run.stderr and '"Read(.env)"' in run.stderr


def test_the_repl_shows_the_warnings_at_start(run_ketch, server, ketch_home):
    _user_settings(ketch_home, {"permissions": {"allow": ["Bsh(npm test:*)"]}})
    run = run_ketch([], server=server([]), env={"TERM": "dumb"}, stdin="")
    assert run.returncode == 0, run.stderr
    assert "warning:" in run.stdout and '"Bash(npm test:*)"' in run.stdout


def test_cli_rules_naming_no_tool_are_still_refused_with_a_suggestion(run_ketch, server):
    run = run_ketch(["-p", "hi", "--allowedTools", "edit"], server=server([]))
    assert run.returncode == 2 and "unknown tool 'edit'" in run.stderr and "'Edit'" in run.stderr

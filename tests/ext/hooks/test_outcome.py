"""Claude Code's hook answers: exit codes, JSON output, several hooks merged."""

from __future__ import annotations

import json

import pytest

from ketch.ext.hooks.config import HookCommand
from ketch.ext.hooks.outcome import merge, parse
from ketch.ext.hooks.runner import Finished

HOOK = HookCommand("PreToolUse", "", "x", 60.0, "s.json", "user")


def done(code: int | None, stdout: str = "", stderr: str = "", timed_out: bool = False) -> Finished:
    return Finished(HOOK, code, stdout, stderr, 1, timed_out=timed_out)


def test_exit_2_denies_a_tool_with_stderr_as_the_reason() -> None:
    p = parse("PreToolUse", done(2, stderr="no rm\n"))
    assert (p.decision, p.reason, p.outcome) == ("deny", "no rm", "blocked")


@pytest.mark.parametrize("event", ["PostToolUse", "Stop", "SubagentStop", "UserPromptSubmit"])
def test_exit_2_blocks_the_events_that_can_block(event: str) -> None:
    p = parse(event, done(2, stderr="why"))
    assert p.block and p.reason == "why" and p.decision is None


def test_exit_2_of_an_event_that_cannot_block_is_only_shown() -> None:
    p = parse("SessionStart", done(2, stderr="oops"))
    assert not p.block and p.outcome == "error" and "oops" in p.error


def test_other_exit_codes_and_timeouts_are_non_blocking_errors() -> None:
    p = parse("PreToolUse", done(1, stderr="broken"))
    assert p.decision is None and p.error == "exit 1: broken"
    p = parse("PreToolUse", done(None, timed_out=True))
    assert p.decision is None and "killed after its 60 s timeout" in p.error


def test_plain_stdout_is_context_only_where_claude_code_makes_it_so() -> None:
    assert parse("UserPromptSubmit", done(0, "it is friday\n")).context == "it is friday"
    assert parse("SessionStart", done(0, "branch: main")).context == "branch: main"
    assert parse("PostToolUse", done(0, "formatted")).context == ""


def test_pre_tool_json_decision_reason_and_rewritten_input() -> None:
    out = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask",
                                  "permissionDecisionReason": "prod file", "updatedInput": {"a": 1},
                                  "additionalContext": "ctx"},
           "suppressOutput": True, "systemMessage": "careful"}
    p = parse("PreToolUse", done(0, json.dumps(out)))
    assert (p.decision, p.reason, p.updated_input, p.context) == ("ask", "prod file", {"a": 1}, "ctx")
    assert p.suppress and p.system_message == "careful"


def test_legacy_decisions_and_continue_false() -> None:
    assert parse("PreToolUse", done(0, '{"decision": "approve"}')).decision == "allow"
    blocked = parse("PostToolUse", done(0, '{"decision": "block", "reason": "lint failed"}'))
    assert blocked.block and blocked.reason == "lint failed"
    assert parse("Stop", done(0, '{"continue": false, "stopReason": "budget"}')).stop == "budget"


def test_permission_request_answers() -> None:
    out = {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                  "decision": {"behavior": "deny", "message": "not on fridays"}}}
    p = parse("PermissionRequest", done(0, json.dumps(out)))
    assert (p.decision, p.reason) == ("deny", "not on fridays")


@pytest.mark.parametrize("stdout", ['{"decision": "block", oops', '{"decision": "maybe"}', '{"decision": 5}',
                                    '{"hookSpecificOutput": {"permissionDecision": "yes"}}',
                                    '{"hookSpecificOutput": {"updatedInput": "rm -rf /"}}'])
def test_unusable_json_is_an_error_and_decides_nothing(stdout: str) -> None:
    p = parse("PreToolUse", done(0, stdout))
    assert p.outcome == "error" and p.decision is None and p.updated_input is None and p.error


def test_merge_takes_the_strictest_decision_and_joins_the_rest() -> None:
    allow = parse("PreToolUse", done(0, json.dumps({"hookSpecificOutput": {
        "permissionDecision": "allow", "updatedInput": {"x": 1}, "additionalContext": "a"}})))
    deny = parse("PreToolUse", done(2, stderr="no"))
    ask = parse("PreToolUse", done(0, '{"hookSpecificOutput": {"permissionDecision": "ask"}}'))
    m = merge([allow, ask, deny])
    assert m.decision == "deny" and m.reason == "no" and m.context == "a" and m.updated_input == {"x": 1}
    assert merge([allow, ask]).decision == "ask"
    assert merge([]).decision is None

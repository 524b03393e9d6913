"""What a finished hook said, in Claude Code's protocol, and what several hooks said together.

Exit 0: stdout is JSON (when it starts with `{`) or plain text, which becomes context for
`UserPromptSubmit` and `SessionStart`. Exit 2: a block; stderr is the reason, for the model
(PreToolUse, PermissionRequest, PostToolUse, Stop, SubagentStop) or for the person (a blocked
prompt; the other events cannot block). Any other exit, a timeout, output that is not the JSON
it claims to be: a non-blocking error the person is shown, and the run goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ketch.agent.hooks_seam import HookAnswer, HookDecision
from ketch.ext.hooks.runner import Finished

CONTEXT_FROM_STDOUT = ("UserPromptSubmit", "SessionStart")
CAN_BLOCK = ("PostToolUse", "Stop", "SubagentStop", "UserPromptSubmit")
DECIDES = ("PreToolUse", "PermissionRequest")
_RANK = {"deny": 3, "ask": 2, "allow": 1}


@dataclass
class Parsed:
    outcome: str = "success"  # "blocked", "error"
    decision: HookDecision | None = None
    reason: str = ""
    updated_input: dict[str, Any] | None = None
    block: bool = False
    context: str = ""
    stop: str | None = None
    system_message: str = ""
    error: str = ""  # for the person
    suppress: bool = False


def parse(event: str, done: Finished) -> Parsed:
    p = Parsed()
    if done.error or done.timed_out:
        p.outcome = "error"
        p.error = done.error or f"killed after its {done.hook.timeout_s:g} s timeout"
        return p
    stderr = done.stderr.strip()
    if done.exit_code == 2:
        p.outcome = "blocked"
        reason = stderr or "(the hook gave no reason)"
        if event in DECIDES:
            p.decision, p.reason = "deny", reason
        elif event in CAN_BLOCK:
            p.block, p.reason = True, reason
        else:
            p.outcome, p.error = "error", f"exit 2: {reason}"
        return p
    if done.exit_code != 0:
        p.outcome, p.error = "error", f"exit {done.exit_code}" + (f": {stderr}" if stderr else "")
        return p
    text = done.stdout.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            p.outcome, p.error = "error", f"printed invalid JSON ({exc}); its output was ignored"
            return p
        problem = _apply(event, data, p) if isinstance(data, dict) else "not a JSON object"
        if problem:
            p.outcome, p.error = "error", f"printed JSON ketch cannot use ({problem}); its output was ignored"
            return Parsed(outcome="error", error=p.error)
    elif text and event in CONTEXT_FROM_STDOUT:
        p.context = text
    return p


def _apply(event: str, data: dict[str, Any], p: Parsed) -> str | None:
    """Fill `p` from Claude Code's JSON output; a problem is returned as one phrase."""
    if data.get("continue") is False:
        stop = data.get("stopReason")
        p.stop = stop if isinstance(stop, str) and stop else "a hook ended the run"
    p.suppress = data.get("suppressOutput") is True
    if isinstance(data.get("systemMessage"), str):
        p.system_message = data["systemMessage"]
    reason = data.get("reason")
    reason = reason if isinstance(reason, str) else ""
    decision = data.get("decision")
    if decision in ("block", "deny"):
        if event in DECIDES:
            p.decision, p.reason = "deny", reason or "blocked by a hook"
        elif event in CAN_BLOCK:
            p.block, p.reason = True, reason or "blocked by a hook"
        p.outcome = "blocked"
    elif decision in ("approve", "allow") and event in DECIDES:
        p.decision, p.reason = "allow", reason
    elif decision is not None and decision != "":
        return f'"decision" must be "block" (or, for PreToolUse, "approve"), not {decision!r}'
    specific = data.get("hookSpecificOutput")
    if specific is None:
        return None
    if not isinstance(specific, dict):
        return '"hookSpecificOutput" must be an object'
    context = specific.get("additionalContext")
    if isinstance(context, str):
        p.context = context
    if event == "PreToolUse":
        return _pre_tool(specific, p)
    if event == "PermissionRequest":
        return _permission(specific, p)
    return None


def _pre_tool(specific: dict[str, Any], p: Parsed) -> str | None:
    decision = specific.get("permissionDecision")
    if decision is not None:
        if decision not in ("allow", "deny", "ask"):
            return f'"permissionDecision" must be "allow", "deny" or "ask", not {decision!r}'
        p.decision = decision
        if decision == "deny":
            p.outcome = "blocked"
        why = specific.get("permissionDecisionReason")
        p.reason = why if isinstance(why, str) else p.reason
    updated = specific.get("updatedInput")
    if updated is not None:
        if not isinstance(updated, dict):
            return '"updatedInput" must be an object holding the tool\'s whole input'
        p.updated_input = updated
    return None


def _permission(specific: dict[str, Any], p: Parsed) -> str | None:
    answer = specific.get("decision")
    if answer is None:
        return None
    behavior = answer.get("behavior") if isinstance(answer, dict) else None
    if behavior not in ("allow", "deny"):
        return '"hookSpecificOutput.decision.behavior" must be "allow" or "deny"'
    assert isinstance(answer, dict)
    p.decision = behavior
    message = answer.get("message")
    p.reason = message if isinstance(message, str) else ""
    return None


def merge(parsed: list[Parsed]) -> HookAnswer:
    """Several hooks of one event: the strictest decision wins (deny > ask > allow), any block
    blocks, reasons and contexts are joined, the first rewritten input of a hook that did not deny is used."""
    m = HookAnswer()
    reasons: list[str] = []
    contexts: list[str] = []
    for p in parsed:
        if p.decision is not None and (m.decision is None or _RANK[p.decision] > _RANK[m.decision]):
            m.decision = p.decision
        if p.decision == "deny" or p.block:
            m.block = m.block or p.block
        if p.reason and (p.block or p.decision is not None):
            reasons.append(p.reason)
        if p.context:
            contexts.append(p.context)
        if p.updated_input is not None and p.decision != "deny" and m.updated_input is None:
            m.updated_input = p.updated_input
        if p.stop is not None and m.stop is None:
            m.stop = p.stop
    m.reason, m.context = "\n".join(reasons), "\n".join(contexts)
    return m

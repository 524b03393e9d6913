"""The JSON messages of `--output-format json` and `stream-json`, in Claude Code's shapes.

Field names and nesting follow Claude Code's headless output (its Agent SDK message types:
`SDKSystemMessage`, `SDKAssistantMessage`, `SDKUserMessage`, `SDKResultMessage`,
`SDKCompactBoundaryMessage`), so a script written against `claude -p` reads ketch's output
unchanged: `permissionMode`, `apiKeySource`, `mcp_servers`, `slash_commands`, `uuid` on every
message, `modelUsage` and `errors` on the result. ketch's own additions (`provider`,
`sandbox`) are extra keys, never renamed ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ketch.agent import events as ev
from ketch.conversation import block_to_dict
from ketch.ids import uuid4

if TYPE_CHECKING:
    from ketch.agent.hooks_seam import HookRan

# API stop reasons; anything else (an interrupted reply) is reported as null, as the API would.
STOP_REASONS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"})


def _uuid() -> str:
    return uuid4()


def init_message(event: ev.SessionStarted, slash_commands: list[str]) -> dict[str, Any]:
    return {
        "type": "system", "subtype": "init", "cwd": event.cwd, "session_id": event.session_id,
        "tools": event.tools, "mcp_servers": event.servers, "model": event.model,
        "permissionMode": event.permission_mode, "slash_commands": slash_commands,
        "apiKeySource": event.api_key_source, "output_style": "default", "uuid": _uuid(),
        "provider": event.provider, "sandbox": event.sandbox,
    }


def assistant_message(event: ev.AssistantMessage, session_id: str) -> dict[str, Any]:
    message = {
        "id": event.message_id, "type": "message", "role": "assistant", "model": event.model,
        "content": [block_to_dict(b) for b in event.message.content],
        "stop_reason": event.stop_reason if event.stop_reason in STOP_REASONS else None,
        "stop_sequence": None, "usage": event.usage.as_dict(),
    }
    return {"type": "assistant", "message": message, "parent_tool_use_id": None, "session_id": session_id,
            "uuid": _uuid()}


def user_message(event: ev.ToolResults, session_id: str) -> dict[str, Any]:
    message = {"role": "user", "content": [block_to_dict(b) for b in event.message.content]}
    return {"type": "user", "message": message, "parent_tool_use_id": None, "session_id": session_id,
            "uuid": _uuid()}


def compact_boundary(event: ev.Compacted, session_id: str) -> dict[str, Any]:
    return {"type": "system", "subtype": "compact_boundary", "session_id": session_id, "uuid": _uuid(),
            "compact_metadata": {"trigger": "auto", "pre_tokens": event.tokens_before,
                                 "post_tokens": event.tokens_after}}


def api_retry(event: ev.Retry, session_id: str) -> dict[str, Any]:
    return {"type": "system", "subtype": "api_retry", "attempt": event.attempt,
            "retry_delay_ms": int(event.delay_s * 1000), "error": event.reason, "session_id": session_id,
            "uuid": _uuid()}


def hook_messages(event: HookRan, session_id: str) -> list[dict[str, Any]]:
    """`--include-hook-events`: Claude Code's hook_started and hook_response, sent once the hook finished."""
    base = {"type": "system", "hook_id": event.hook_id, "hook_name": event.name, "hook_event": event.event,
            "session_id": session_id}
    return [{**base, "subtype": "hook_started", "uuid": _uuid()},
            {**base, "subtype": "hook_response", "output": event.stdout + event.stderr, "stdout": event.stdout,
             "stderr": event.stderr, "exit_code": event.exit_code, "outcome": event.outcome,
             "command": event.command, "source": event.source, "duration_ms": event.duration_ms, "uuid": _uuid()}]


def result_message(event: ev.RunFinished, model: str = "", context_window: int = 0) -> dict[str, Any]:
    """The last message: `result` on success, `errors` otherwise (Claude Code's two result shapes)."""
    subtype = event.subtype if event.subtype != "interrupted" else "error_during_execution"
    usage = event.usage
    out: dict[str, Any] = {
        "type": "result", "subtype": subtype, "is_error": event.is_error,
        "duration_ms": event.duration_ms, "duration_api_ms": event.duration_api_ms,
        "num_turns": event.num_turns,
    }
    if subtype == "success":
        out["result"] = event.result
    out.update({
        "session_id": event.session_id, "total_cost_usd": round(event.cost_usd, 6), "usage": usage.as_dict(),
        "modelUsage": {model: {
            "inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens,
            "cacheReadInputTokens": usage.cache_read_input_tokens,
            "cacheCreationInputTokens": usage.cache_creation_input_tokens, "webSearchRequests": 0,
            "costUSD": round(event.cost_usd, 6), "contextWindow": context_window,
        }} if model else {},
        "permission_denials": [
            {"tool_name": d.tool_name, "tool_use_id": d.tool_use_id, "tool_input": d.tool_input}
            for d in event.permission_denials
        ],
        "uuid": _uuid(),
    })
    if subtype != "success":
        out["errors"] = [event.result] if event.result else []
    return out

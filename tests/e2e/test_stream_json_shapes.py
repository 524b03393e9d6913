"""stream-json and json output in Claude Code's field names and shapes, so its scripts read ketch's.

The expected keys are those of Claude Code's headless output (its Agent SDK message types):
system/init, assistant, user and result; ketch may add keys, never rename or drop them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

INIT_KEYS = {"type", "subtype", "cwd", "session_id", "tools", "mcp_servers", "model", "permissionMode",
             "slash_commands", "apiKeySource", "output_style", "uuid"}
ASSISTANT_KEYS = {"type", "message", "parent_tool_use_id", "session_id", "uuid"}
API_MESSAGE_KEYS = {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
USER_KEYS = {"type", "message", "parent_tool_use_id", "session_id", "uuid"}
RESULT_KEYS = {"type", "subtype", "is_error", "duration_ms", "duration_api_ms", "num_turns", "session_id",
               "total_cost_usd", "usage", "modelUsage", "permission_denials", "uuid"}
MODEL_USAGE_KEYS = {"inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens",
                    "webSearchRequests", "costUSD", "contextWindow"}


def _is_uuid(text: str) -> bool:
    return str(uuid.UUID(text)) == text


def test_every_stream_json_message_has_claude_codes_fields(server, run_ketch, workspace: Path, ketch_home: Path):
    (workspace / "a.txt").write_text("alpha\n")
    (ketch_home / "commands").mkdir()
    (ketch_home / "commands" / "review.md").write_text("Review $ARGUMENTS\n")
    fake = server([{"tool_calls": [{"name": "Read", "id": "r1", "input": {"file_path": "a.txt"}}]},
                   {"text": "It says alpha."}])
    run = run_ketch(["-p", "read a.txt", "--output-format", "stream-json"], server=fake)
    assert run.returncode == 0, run.stderr
    init, first, results, answer, result = run.lines()

    assert INIT_KEYS <= set(init) and "permission_mode" not in init
    assert (init["type"], init["subtype"], init["permissionMode"]) == ("system", "init", "default")
    assert init["apiKeySource"] == "ANTHROPIC_API_KEY" and init["mcp_servers"] == []
    assert init["slash_commands"] == ["review"] and init["output_style"] == "default"

    for message in (first, answer):
        assert ASSISTANT_KEYS <= set(message) and API_MESSAGE_KEYS <= set(message["message"])
        assert message["message"]["role"] == "assistant" and message["parent_tool_use_id"] is None
    assert first["message"]["stop_reason"] == "tool_use" and answer["message"]["stop_reason"] == "end_turn"
    assert set(first["message"]["usage"]) >= {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                               "cache_creation_input_tokens"}

    assert USER_KEYS <= set(results) and results["message"]["role"] == "user"
    block = results["message"]["content"][0]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "r1" and block["is_error"] is False

    assert RESULT_KEYS <= set(result) and result["subtype"] == "success" and result["result"] == "It says alpha."
    assert set(result["modelUsage"]) == {"claude-sonnet-4-5"}
    assert MODEL_USAGE_KEYS <= set(result["modelUsage"]["claude-sonnet-4-5"])
    assert result["modelUsage"]["claude-sonnet-4-5"]["contextWindow"] > 0
    assert all(_is_uuid(m["uuid"]) for m in (init, first, results, answer, result))
    assert len({m["uuid"] for m in (init, first, results, answer, result)}) == 5
    assert len({m["session_id"] for m in (init, first, results, answer, result)}) == 1


def test_an_error_result_carries_errors_not_a_result(server, run_ketch):
    fake = server([{"tool_calls": [{"name": "Read", "input": {"file_path": "x"}}]}])
    run = run_ketch(["-p", "go", "--max-turns", "1", "--output-format", "json"], server=fake)
    result = run.json()
    assert RESULT_KEYS <= set(result)
    assert result["subtype"] == "error_max_turns" and result["is_error"] is True
    assert "result" not in result and result["errors"] == ["reached the maximum of 1 turns"]


def test_api_key_source_names_where_the_key_came_from(server, run_ketch):
    fake = server([{"text": "hi"}])
    run = run_ketch(["-p", "hi", "--output-format", "stream-json", "--model", "openai:llama3.1"], server=fake,
                    dialect="openai", env={"OPENAI_API_KEY": ""})
    assert run.lines()[0]["apiKeySource"] == "none"

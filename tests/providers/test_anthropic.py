"""Anthropic codec: exact request bodies, stream decoding edge cases, and error messages."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ketch.conversation import (
    Message,
    ModelRequest,
    TextBlock,
    ThinkingBlock,
    ToolDef,
    ToolResultBlock,
    ToolUseBlock,
)
from ketch.providers.anthropic import AnthropicProvider, build_body
from ketch.providers.base import Completed, ProviderConfig, ProviderError, TextChunk, ThinkingChunk, UsageReport

KEY = "sk-ant-api03-very-secret-key"
EPH = {"type": "ephemeral"}


def request(messages: list[Message], **kw: Any) -> ModelRequest:
    return ModelRequest(model="claude-sonnet-4-5", system=kw.pop("system", "You are ketch."),
                        messages=messages, **kw)


def test_body_for_a_tool_loop_is_exact() -> None:
    tools = [ToolDef("Read", "Read a file.", {"type": "object", "properties": {"file_path": {"type": "string"}}}),
             ToolDef("Bash", "Run a command.", {"type": "object", "properties": {"command": {"type": "string"}}})]
    messages = [
        Message("user", [TextBlock("fix the bug")]),
        Message("assistant", [
            ThinkingBlock("look first", signature="sig-1"),
            TextBlock("Reading."),
            ToolUseBlock("toolu_1", "Read", {"file_path": "a.py"}),
            ToolUseBlock("toolu_2", "Bash", {}, input_error="not JSON", raw_input="{oops"),
        ]),
        Message("user", [
            ToolResultBlock("toolu_1", "1\tprint()"),
            ToolResultBlock("toolu_2", "invalid arguments", is_error=True),
        ]),
    ]
    body = build_body(request(messages, tools=tools, max_tokens=1000, temperature=0.2))
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1000,
        "system": [{"type": "text", "text": "You are ketch.", "cache_control": EPH}],
        "tools": [
            {"name": "Read", "description": "Read a file.", "input_schema": tools[0].input_schema},
            {"name": "Bash", "description": "Run a command.", "input_schema": tools[1].input_schema,
             "cache_control": EPH},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "fix the bug", "cache_control": EPH}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "look first", "signature": "sig-1"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "a.py"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "1\tprint()"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "invalid arguments",
                 "is_error": True, "cache_control": EPH},
            ]},
        ],
        "temperature": 0.2,
        "stream": True,
    }


def count_breakpoints(body: dict[str, Any]) -> int:
    return json.dumps(body).count('"cache_control"')


def test_cache_breakpoints_never_exceed_four_and_sit_on_the_newest_user_turns() -> None:
    messages = []
    for n in range(5):
        messages += [Message("user", [TextBlock(f"u{n}")]), Message("assistant", [TextBlock(f"a{n}")])]
    messages.append(Message("user", [TextBlock("last"), TextBlock("and more")]))
    body = build_body(request(messages, tools=[ToolDef("T", "t", {"type": "object"})]))
    assert count_breakpoints(body) == 4
    marked = [(i, m["content"][-1]["text"]) for i, m in enumerate(body["messages"]) if "cache_control" in m["content"][-1]]
    assert marked == [(8, "u4"), (10, "and more")]
    assert "cache_control" not in body["messages"][10]["content"][0]


def test_no_system_and_no_tools_means_no_empty_fields() -> None:
    body = build_body(request([Message("user", [TextBlock("hi")])], system=""))
    assert "system" not in body and "tools" not in body and "temperature" not in body
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPH}]}]


def test_blocks_the_api_would_reject_are_not_sent() -> None:
    body = build_body(request([
        Message("user", [TextBlock("hi")]),
        Message("assistant", [ThinkingBlock("unsigned reasoning from another dialect"), TextBlock(""), TextBlock("ok")]),
    ]))
    assert body["messages"][1]["content"] == [{"type": "text", "text": "ok"}]


def test_redacted_thinking_goes_back_verbatim() -> None:
    block = ThinkingBlock("", signature="opaque==", redacted=True)
    body = build_body(request([Message("user", [TextBlock("hi")]), Message("assistant", [block, TextBlock("x")])]))
    assert body["messages"][1]["content"][0] == {"type": "redacted_thinking", "data": "opaque=="}


# -- streaming --------------------------------------------------------------------------


def sse_events(*events: tuple[str, dict[str, Any]]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def start(**usage: int) -> tuple[str, dict[str, Any]]:
    return ("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
        "usage": {"input_tokens": 10, "output_tokens": 1, **usage}}})


def block(index: int, content_block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("content_block_start", {"type": "content_block_start", "index": index, "content_block": content_block})


def delta(index: int, d: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})


def stop(index: int) -> tuple[str, dict[str, Any]]:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def end(reason: str = "end_turn", output: int = 5) -> list[tuple[str, dict[str, Any]]]:
    return [("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": output}}),
            ("message_stop", {"type": "message_stop"})]


class Server:
    """A MockTransport handler that records requests and answers with canned replies."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        return self.replies.pop(0)


def stream_reply(data: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=data)


def run(*replies: httpx.Response, key: str | None = KEY, **config: Any) -> tuple[list[Any], Server]:
    server = Server(*replies)
    provider = AnthropicProvider(
        ProviderConfig(api_key=key, base_url="https://api.anthropic.test/", max_retries=0, **config),
        transport=httpx.MockTransport(server),
    )
    try:
        return [e for e in provider.stream(request([Message("user", [TextBlock("hi")])]))
                if not isinstance(e, UsageReport)], server
    finally:
        provider.close()


def completed(*events: tuple[str, dict[str, Any]]) -> Completed:
    out, _ = run(stream_reply(sse_events(*events)))
    assert isinstance(out[-1], Completed)
    return out[-1]


def test_request_line_and_headers() -> None:
    _, server = run(stream_reply(sse_events(start(), *end())), extra_headers={"anthropic-beta": "x"})
    req = server.requests[0]
    assert req.method == "POST" and str(req.url) == "https://api.anthropic.test/v1/messages"
    assert req.headers["x-api-key"] == KEY and req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["anthropic-beta"] == "x" and req.headers["user-agent"].startswith("ketch/")
    assert "authorization" not in req.headers
    assert json.loads(req.content)["stream"] is True


def test_no_key_sends_no_key_header() -> None:
    _, server = run(stream_reply(sse_events(start(), *end())), key=None)
    assert "x-api-key" not in server.requests[0].headers


def test_deltas_stream_in_order_and_usage_is_kept() -> None:
    events, _ = run(stream_reply(sse_events(
        start(cache_creation_input_tokens=7, cache_read_input_tokens=9),
        ("ping", {"type": "ping"}),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "hmm"}),
        delta(0, {"type": "signature_delta", "signature": "SIG"}),
        stop(0),
        block(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "a"}),
        delta(1, {"type": "text_delta", "text": "b"}),
        stop(1),
        ("some_future_event", {"type": "some_future_event"}),
        *end("max_tokens", 42),
    )))
    assert events[:3] == [ThinkingChunk("hmm"), TextChunk("a"), TextChunk("b")]
    done = events[3]
    assert done.message.content == [ThinkingBlock("hmm", signature="SIG"), TextBlock("ab")]
    assert done.stop_reason == "max_tokens" and done.message_id == "msg_1" and done.model == "claude-x"
    assert done.usage.as_dict() == {"input_tokens": 10, "output_tokens": 42,
                                    "cache_creation_input_tokens": 7, "cache_read_input_tokens": 9}


@pytest.mark.parametrize("raw, error", [
    ('{"path": "a.py"', "not valid JSON"),
    ("[1, 2]", "JSON list, not an object"),
    ('"just a string"', "JSON str, not an object"),
])
def test_malformed_tool_input_becomes_an_input_error(raw: str, error: str) -> None:
    done = completed(start(), block(0, {"type": "tool_use", "id": "toolu_9", "name": "Edit", "input": {}}),
                     delta(0, {"type": "input_json_delta", "partial_json": raw[:5]}),
                     delta(0, {"type": "input_json_delta", "partial_json": raw[5:]}), stop(0), *end("tool_use"))
    (call,) = done.message.tool_uses()
    assert call.input == {} and call.raw_input == raw and error in (call.input_error or "")
    assert "\n" not in (call.input_error or "")


def test_tool_with_no_input_deltas_gets_an_empty_object() -> None:
    done = completed(start(), block(0, {"type": "tool_use", "id": "toolu_1", "name": "TodoRead", "input": {}}),
                     delta(0, {"type": "input_json_delta", "partial_json": ""}), stop(0), *end("tool_use"))
    assert done.message.tool_uses() == [ToolUseBlock("toolu_1", "TodoRead", {})]


def test_redacted_thinking_and_unknown_blocks() -> None:
    done = completed(start(), block(0, {"type": "redacted_thinking", "data": "ENC=="}), stop(0),
                     block(1, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}), stop(1),
                     block(2, {"type": "text", "text": ""}), stop(2), *end())
    assert done.message.content == [ThinkingBlock("", signature="ENC==", redacted=True)]


def test_later_usage_in_message_delta_replaces_earlier_counts() -> None:
    done = completed(start(cache_read_input_tokens=3),
                     ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                        "usage": {"output_tokens": 8, "input_tokens": 11, "cache_read_input_tokens": None}}),
                     ("message_stop", {"type": "message_stop"}))
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.cache_read_input_tokens) == (11, 8, 3)


# -- errors ------------------------------------------------------------------------------


def api_error(status: int, err_type: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"type": "error", "error": {"type": err_type, "message": message}})


def failure(*replies: httpx.Response, key: str | None = KEY) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(*replies, key=key)
    message = str(info.value)
    assert "\n" not in message and KEY not in message and "Traceback" not in message
    return info.value


def test_bad_key() -> None:
    err = failure(api_error(401, "authentication_error", "invalid x-api-key"))
    assert str(err) == "Anthropic rejected the API key (HTTP 401): check ANTHROPIC_API_KEY"
    assert err.kind == "auth" and err.status == 401


def test_missing_key() -> None:
    err = failure(api_error(401, "authentication_error", "x-api-key header is required"), key=None)
    assert "set ANTHROPIC_API_KEY" in str(err)


def test_permission() -> None:
    err = failure(api_error(403, "permission_error", "Your API key does not have permission to use the specified resource."))
    assert err.kind == "permission" and "HTTP 403" in str(err) and "does not have permission" in str(err)


def test_unknown_model() -> None:
    err = failure(api_error(404, "not_found_error", "model: claude-sonnet-9"))
    assert err.kind == "not_found"
    assert str(err).startswith("unknown model 'claude-sonnet-4-5'") and "check --model" in str(err)


def test_prompt_too_long() -> None:
    err = failure(api_error(400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"))
    assert err.kind == "context_length" and "208310 tokens" in str(err)


def test_other_bad_request_carries_the_server_message_truncated() -> None:
    err = failure(api_error(400, "invalid_request_error", "messages.1.content: bad " + "x" * 1000))
    assert err.kind == "bad_request" and "messages.1.content: bad" in str(err) and len(str(err)) < 400


def test_server_echoing_the_key_is_scrubbed() -> None:
    err = failure(api_error(400, "invalid_request_error", f"weird key {KEY} here"))
    assert "[redacted]" in str(err)


def test_html_instead_of_a_stream_is_malformed() -> None:
    err = failure(httpx.Response(200, headers={"content-type": "text/html"},
                                 content=b"<!DOCTYPE html><html><body>Captive portal login</body></html>"))
    assert err.kind == "malformed" and "text/html" in str(err) and "Captive portal" in str(err)


def test_json_error_with_status_200_is_classified() -> None:
    err = failure(httpx.Response(200, json={"type": "error", "error": {"type": "invalid_request_error",
                                                                          "message": "prompt is too long"}}))
    assert err.kind == "context_length"


def test_event_that_is_not_json_is_malformed() -> None:
    err = failure(stream_reply(b"event: message_start\ndata: {not json\n\n"))
    assert err.kind == "malformed" and "not JSON" in str(err)


def test_unlabelled_stream_is_sniffed() -> None:
    events, _ = run(httpx.Response(200, headers={"content-type": "text/plain"},
                                   content=b"\n" + sse_events(start(), block(0, {"type": "text", "text": "hi"}), stop(0), *end())))
    assert events[-1].message.text() == "hi"


def test_client_is_created_lazily_and_reused() -> None:
    server = Server(stream_reply(sse_events(start(), *end())), stream_reply(sse_events(start(), *end())))
    provider = AnthropicProvider(ProviderConfig(api_key=KEY, base_url="http://x"), transport=httpx.MockTransport(server))
    assert provider._client is None
    list(provider.stream(request([Message("user", [TextBlock("hi")])])))
    client = provider._client
    list(provider.stream(request([Message("user", [TextBlock("hi")])])))
    assert client is not None and provider._client is client and len(server.requests) == 2
    provider.close()
    assert provider._client is None

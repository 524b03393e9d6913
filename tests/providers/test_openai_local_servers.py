"""The OpenAI codec against local servers' habits: calls left in text, and servers that refuse to stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ketch.conversation import Message, ModelRequest, TextBlock, ToolDef
from ketch.providers.base import Completed, ProviderConfig, ProviderError, Retrying, TextChunk, UsageReport
from ketch.providers.openai_chat import OpenAIChatProvider

LOCAL = "http://127.0.0.1:8080/v1"
TOOLS = [ToolDef("Read", "Read a file.", {"type": "object", "properties": {"file_path": {"type": "string"}}})]
QWEN_CALL = '<tool_call>\n{"name": "Read", "arguments": {"file_path": "app.py"}}\n</tool_call>'
# llama-cpp-python's server, chat_format chatml-function-calling, `stream: true` with tools:
# the handler raises ValueError, and its RouteErrorHandler answers 500 in OpenAI's error shape.
LLAMA_CPP_REFUSAL = {"error": {"message": "Automatic streaming tool choice is not supported",
                               "type": "internal_server_error", "param": None, "code": None}}


def sse(*contents: str, calls: list[dict[str, Any]] | None = None) -> httpx.Response:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "qwen"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]} for c in contents]
    if calls:
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def whole(content: str) -> httpx.Response:
    return httpx.Response(200, json={"id": "chatcmpl-2", "object": "chat.completion", "model": "qwen", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4}})


class Server:
    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.accepts: list[str] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(req.content))
        self.accepts.append(req.headers.get("accept", ""))
        return self.replies.pop(0)


def provider(server: Server, base: str = LOCAL, retries: int = 0) -> OpenAIChatProvider:
    return OpenAIChatProvider(ProviderConfig(api_key=None, base_url=base, max_retries=retries, retry_base_s=0),
                              transport=httpx.MockTransport(server))


def ask(p: OpenAIChatProvider, tools: list[ToolDef] | None = TOOLS) -> list[Any]:
    request = ModelRequest(model="qwen", system="", messages=[Message("user", [TextBlock("fix app.py")])],
                           tools=list(tools or []))
    return [e for e in p.stream(request) if not isinstance(e, UsageReport)]


# -- calls left in text ------------------------------------------------------------------------


def test_a_call_left_in_text_becomes_a_call_and_is_never_shown() -> None:
    pieces = ["I'll read it.\n", "<tool_", "call>\n{\"name\": \"Read\", ", '"arguments": {"file_path": "app.py"}}\n</tool_call>']
    events = ask(provider(Server(sse(*pieces))))
    shown = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert shown == "I'll read it.\n"
    done = events[-1]
    assert isinstance(done, Completed) and done.stop_reason == "tool_use"
    assert done.message.text() == "I'll read it."
    [call] = done.message.tool_uses()
    assert call.name == "Read" and call.input == {"file_path": "app.py"} and call.id.startswith("call_")


def test_openai_itself_is_taken_at_its_word() -> None:
    events = ask(provider(Server(sse(QWEN_CALL)), base="https://api.openai.com/v1"))
    assert events[-1].message.tool_uses() == [] and events[-1].message.text() == QWEN_CALL


def test_without_tools_offered_text_streams_as_it_comes() -> None:
    events = ask(provider(Server(sse('{"name": "Read", ', '"arguments": {}}'))), tools=None)
    assert [e.text for e in events if isinstance(e, TextChunk)] == ['{"name": "Read", ', '"arguments": {}}']


def test_a_call_of_a_tool_not_offered_is_shown_as_text() -> None:
    text = '{"name": "Deploy", "arguments": {"env": "prod"}}'
    events = ask(provider(Server(sse(text[:10], text[10:]))))
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == text
    assert events[-1].message.tool_uses() == [] and events[-1].stop_reason == "end_turn"


def test_real_tool_calls_win_over_text_that_looks_like_one() -> None:
    real = [{"index": 0, "id": "call_real", "type": "function",
             "function": {"name": "Read", "arguments": '{"file_path": "b.py"}'}}]
    events = ask(provider(Server(sse(QWEN_CALL, calls=real))))
    done = events[-1]
    assert [c.id for c in done.message.tool_uses()] == ["call_real"] and done.message.text() == QWEN_CALL


def test_a_whole_completion_with_a_call_in_its_content() -> None:
    events = ask(provider(Server(whole("```json\n" + '{"name": "Read", "arguments": {"file_path": "app.py"}}' + "\n```"))))
    assert [e for e in events if isinstance(e, TextChunk)] == []
    assert events[-1].message.tool_uses()[0].input == {"file_path": "app.py"}


# -- servers that refuse to stream -------------------------------------------------------------


def test_llama_cpp_refusal_is_sent_again_unstreamed_and_remembered() -> None:
    server = Server(httpx.Response(500, json=LLAMA_CPP_REFUSAL), whole(QWEN_CALL), whole("done"), sse("hi"))
    p = provider(server, retries=4)
    events = ask(p)
    [notice] = [e for e in events if isinstance(e, Retrying)]
    assert "127.0.0.1:8080 refused streamed replies when tools are offered" in notice.reason
    assert "Automatic streaming tool choice is not supported" in notice.reason and "rest of this session" in notice.reason
    assert events[-1].message.tool_uses()[0].name == "Read"
    assert server.bodies[0]["stream"] is True
    assert "stream" not in server.bodies[1] and "stream_options" not in server.bodies[1]
    assert server.accepts[1] == "application/json"
    assert server.bodies[1]["messages"] == server.bodies[0]["messages"]
    # the next request with tools goes unstreamed at once, without a notice; one without tools streams
    later = ask(p)
    assert not any(isinstance(e, Retrying) for e in later) and later[-1].message.text() == "done"
    assert "stream" not in server.bodies[2]
    assert ask(p, tools=None)[-1].message.text() == "hi" and server.bodies[3]["stream"] is True
    assert len(server.bodies) == 4


def test_a_400_naming_stream_options_falls_back_too() -> None:
    refusal = httpx.Response(400, json={"error": {"message": "Unrecognized request argument supplied: stream_options"}})
    server = Server(refusal, whole("ok"))
    events = ask(provider(server))
    assert events[-1].message.text() == "ok" and "stream" not in server.bodies[1]


def test_the_unstreamed_retry_is_made_once() -> None:
    server = Server(httpx.Response(500, json=LLAMA_CPP_REFUSAL), httpx.Response(500, json=LLAMA_CPP_REFUSAL))
    with pytest.raises(ProviderError) as info:
        ask(provider(server))
    assert "Automatic streaming" in str(info.value) and len(server.bodies) == 2


@pytest.mark.parametrize("status, error", [
    (401, {"error": {"message": "invalid api key for streaming endpoint", "code": "invalid_api_key"}}),
    (429, {"error": {"message": "quota exceeded for stream", "code": "insufficient_quota", "type": "insufficient_quota"}}),
    (413, {"error": {"message": "request too large to stream"}}),
    (400, {"error": {"message": "maximum context length exceeded while streaming", "code": "context_length_exceeded"}}),
    (404, {"error": {"message": "model not found (stream)"}}),
])
def test_errors_about_auth_quota_or_size_are_never_resent(status: int, error: dict[str, Any]) -> None:
    server = Server(httpx.Response(status, json=error))
    with pytest.raises(ProviderError):
        ask(provider(server))
    assert len(server.bodies) == 1


def test_an_error_not_about_streaming_is_not_a_refusal() -> None:
    server = Server(httpx.Response(400, json={"error": {"message": "upstream model crashed"}}))
    with pytest.raises(ProviderError):
        ask(provider(server, base="http://stream.local:8080/v1"))  # the host's name does not count
    assert len(server.bodies) == 1

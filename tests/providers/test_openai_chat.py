"""OpenAI Chat Completions codec: exact bodies, the dialect's many server variants, errors."""

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
from ketch.providers.base import Completed, ProviderConfig, ProviderError, TextChunk, ThinkingChunk, UsageReport
from ketch.providers.openai_chat import OpenAIChatProvider, build_body

KEY = "sk-proj-very-secret-openai-key"


def request(messages: list[Message], **kw: Any) -> ModelRequest:
    return ModelRequest(model="gpt-4.1", system=kw.pop("system", "You are ketch."), messages=messages, **kw)


def test_body_for_a_tool_loop_is_exact() -> None:
    schema = {"type": "object", "properties": {"command": {"type": "string"}}}
    messages = [
        Message("user", [TextBlock("run the tests")]),
        Message("assistant", [
            ThinkingBlock("reasoning is not sent back", signature="s"),
            TextBlock("Running."),
            ToolUseBlock("call_1", "shell", {"command": "pytest", "note": "caf\u00e9"}),
            ToolUseBlock("call_2", "shell", {}, input_error="bad JSON", raw_input='{"command": '),
        ]),
        Message("user", [
            TextBlock("also, hurry"),
            ToolResultBlock("call_1", "3 passed"),
            ToolResultBlock("call_2", "arguments were not valid JSON", is_error=True),
        ]),
        Message("assistant", [ToolUseBlock("call_3", "shell", {"command": "ls"})]),
        Message("user", [ToolResultBlock("call_3", "Error: no such dir", is_error=True)]),
    ]
    body = build_body(request(messages, tools=[ToolDef("shell", "Run a command.", schema)], max_tokens=2000),
                      "https://api.openai.com/v1")
    assert body == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "You are ketch."},
            {"role": "user", "content": "run the tests"},
            {"role": "assistant", "content": "Running.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "shell", "arguments": '{"command": "pytest", "note": "caf\u00e9"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "shell", "arguments": '{"command": '}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "3 passed"},
            {"role": "tool", "tool_call_id": "call_2", "content": "Error: arguments were not valid JSON"},
            {"role": "user", "content": "also, hurry"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_3", "type": "function", "function": {"name": "shell", "arguments": '{"command": "ls"}'}},
            ]},
            {"role": "tool", "tool_call_id": "call_3", "content": "Error: no such dir"},
        ],
        "tools": [{"type": "function", "function": {"name": "shell", "description": "Run a command.", "parameters": schema}}],
        "max_completion_tokens": 2000,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize("base, key", [
    ("https://api.openai.com/v1", "max_completion_tokens"),
    ("http://localhost:11434/v1", "max_tokens"),
    ("https://openrouter.ai/api/v1", "max_tokens"),
    ("https://api.openai.com.evil.example/v1", "max_tokens"),
])
def test_output_limit_field_depends_on_the_host(base: str, key: str) -> None:
    body = build_body(request([Message("user", [TextBlock("hi")])], max_tokens=99), base)
    assert body[key] == 99 and len({"max_tokens", "max_completion_tokens"} & body.keys()) == 1


@pytest.mark.parametrize("base, content", [
    ("https://api.openai.com/v1", None),
    ("http://127.0.0.1:8080/v1", ""),  # llama-cpp-python's server answers a null content with a 500
])
def test_a_turn_of_calls_only_has_null_content_for_openai_and_empty_text_elsewhere(base: str, content: Any) -> None:
    messages = [Message("user", [TextBlock("go")]), Message("assistant", [ToolUseBlock("c1", "shell", {"command": "ls"})]),
                Message("user", [ToolResultBlock("c1", "a.py")])]
    body = build_body(request(messages), base)
    [turn] = [m for m in body["messages"] if m["role"] == "assistant"]
    assert turn["content"] == content and turn["tool_calls"]


def test_minimal_body_has_no_empty_fields() -> None:
    body = build_body(request([Message("user", [TextBlock("hi")])], system="", temperature=0.0), "http://x/v1")
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert "tools" not in body and body["temperature"] == 0.0


# -- streaming --------------------------------------------------------------------------


def chunks(*deltas: dict[str, Any], finish: str | None = "stop", usage: dict[str, Any] | None = None,
           done: bool = True) -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "served-model"}
    out = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    if finish:
        out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if usage is not None:
        out.append({**base, "choices": [], "usage": usage})
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in out)
    return (text + ("data: [DONE]\n\n" if done else "")).encode()


class Server:
    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        return self.replies.pop(0)


def stream_reply(data: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=data)


def run(*replies: httpx.Response, key: str | None = KEY, base: str = "https://api.openai.com/v1/",
        **config: Any) -> tuple[list[Any], Server]:
    server = Server(*replies)
    provider = OpenAIChatProvider(ProviderConfig(api_key=key, base_url=base, max_retries=0, **config),
                                  transport=httpx.MockTransport(server))
    try:
        return [e for e in provider.stream(request([Message("user", [TextBlock("hi")])]))
                if not isinstance(e, UsageReport)], server
    finally:
        provider.close()


def completed(data: bytes) -> Completed:
    events, _ = run(stream_reply(data))
    assert isinstance(events[-1], Completed)
    return events[-1]


def test_request_line_and_auth_header() -> None:
    _, server = run(stream_reply(chunks({"content": "x"})), extra_headers={"HTTP-Referer": "https://ketch.dev"})
    req = server.requests[0]
    assert str(req.url) == "https://api.openai.com/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}" and req.headers["http-referer"] == "https://ketch.dev"


def test_local_server_without_key_gets_no_auth_header() -> None:
    _, server = run(stream_reply(chunks({"content": "x"})), key=None, base="http://127.0.0.1:8080/v1")
    assert "authorization" not in server.requests[0].headers
    assert json.loads(server.requests[0].content)["max_tokens"] == 8192


def test_text_reasoning_and_usage() -> None:
    events, _ = run(stream_reply(chunks(
        {"role": "assistant", "content": ""}, {"reasoning_content": "think "}, {"reasoning": "more"},
        {"content": "Hel"}, {"content": "lo"}, {"content": None},
        usage={"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 64}},
    )))
    assert events[:4] == [ThinkingChunk("think "), ThinkingChunk("more"), TextChunk("Hel"), TextChunk("lo")]
    done = events[-1]
    assert done.message.content == [ThinkingBlock("think more"), TextBlock("Hello")]
    assert done.usage.as_dict() == {"input_tokens": 36, "output_tokens": 7,
                                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64}
    assert done.stop_reason == "end_turn" and done.model == "served-model" and done.message_id == "chatcmpl-1"


def test_usage_without_details_or_null_details() -> None:
    done = completed(chunks({"content": "x"}, usage={"prompt_tokens": 10, "completion_tokens": 2,
                                                     "prompt_tokens_details": None}))
    assert (done.usage.input_tokens, done.usage.cache_read_input_tokens, done.usage.output_tokens) == (10, 0, 2)


@pytest.mark.parametrize("finish, stop", [("stop", "end_turn"), ("tool_calls", "tool_use"),
                                          ("length", "max_tokens"), ("content_filter", "refusal"),
                                          ("something_new", "something_new")])
def test_finish_reason_maps_to_stop_reason(finish: str, stop: str) -> None:
    assert completed(chunks({"content": "x"}, finish=finish)).stop_reason == stop


def test_parallel_calls_split_across_chunks() -> None:
    done = completed(chunks(
        {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "read", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "grep", "arguments": '{"q"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"path": '}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": ': "x"}'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"a.py"}'}}]},
        finish="tool_calls",
    ))
    assert done.message.tool_uses() == [ToolUseBlock("call_a", "read", {"path": "a.py"}),
                                        ToolUseBlock("call_b", "grep", {"q": "x"})]
    assert done.stop_reason == "tool_use"


def test_missing_ids_are_synthesised_and_stop_with_calls_means_tool_use() -> None:
    done = completed(chunks(
        {"tool_calls": [{"index": 0, "function": {"name": "ls", "arguments": "{}"}},
                        {"index": 1, "function": {"name": "pwd", "arguments": ""}}]},
        finish="stop",
    ))
    assert [(c.id, c.name, c.input) for c in done.message.tool_uses()] == [("call_0", "ls", {}), ("call_1", "pwd", {})]
    assert done.stop_reason == "tool_use"


def test_calls_without_index_each_whole_in_one_chunk() -> None:
    done = completed(chunks(
        {"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"n": 1}'}}]},
        {"tool_calls": [{"id": "c2", "type": "function", "function": {"name": "b", "arguments": {"n": 2}}}]},
        finish="tool_calls",
    ))
    assert [(c.id, c.name, c.input) for c in done.message.tool_uses()] == [("c1", "a", {"n": 1}), ("c2", "b", {"n": 2})]


def test_malformed_arguments_become_an_input_error() -> None:
    done = completed(chunks(
        {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "edit", "arguments": '{"path": "a.py", '}}]},
        finish="tool_calls",
    ))
    (call,) = done.message.tool_uses()
    assert call.input == {} and call.raw_input == '{"path": "a.py", ' and "not valid JSON" in (call.input_error or "")


def test_done_without_finish_reason_is_accepted() -> None:
    assert completed(chunks({"content": "ok"}, finish=None)).message.text() == "ok"


def test_other_choices_are_ignored() -> None:
    data = b'data: {"id":"x","choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":"mine"},"finish_reason":"stop"}]}\n\n'
    assert completed(data).message.text() == "mine"


def test_server_that_ignores_stream_true_is_understood() -> None:
    payload = {"id": "chatcmpl-2", "object": "chat.completion", "model": "llama3", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Sure.", "tool_calls": [
            {"id": "call_x", "type": "function", "function": {"name": "ls", "arguments": "{\"path\": \".\"}"}}]}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
    events, _ = run(httpx.Response(200, json=payload))
    assert events[0] == TextChunk("Sure.")
    done = events[-1]
    assert done.message.tool_uses() == [ToolUseBlock("call_x", "ls", {"path": "."})] and done.usage.output_tokens == 3


# -- errors ------------------------------------------------------------------------------


def failure(*replies: httpx.Response, key: str | None = KEY, base: str = "https://api.openai.com/v1") -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(*replies, key=key, base=base)
    message = str(info.value)
    assert "\n" not in message and KEY not in message
    return info.value


def oai_error(status: int, message: str, code: str | None = None, err_type: str = "invalid_request_error") -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message, "type": err_type, "param": None, "code": code}})


def test_bad_key() -> None:
    err = failure(oai_error(401, "Incorrect API key provided: sk-proj-***key.", "invalid_api_key"))
    assert str(err) == "OpenAI rejected the API key (HTTP 401): check OPENAI_API_KEY" and err.kind == "auth"


def test_compatible_server_is_named_by_host() -> None:
    err = failure(oai_error(401, "unauthorized"), base="https://openrouter.ai/api/v1")
    assert str(err).startswith("the server at openrouter.ai rejected the API key (HTTP 401)")


def test_unknown_model() -> None:
    err = failure(oai_error(404, "The model `gpt-9` does not exist or you do not have access to it.", "model_not_found"))
    assert err.kind == "not_found" and str(err).startswith("unknown model 'gpt-4.1'") and "check --model" in str(err)


def test_ollama_style_error_string() -> None:
    err = failure(httpx.Response(404, json={"error": "model \"qwen3\" not found, try pulling it first"}),
                  key=None, base="http://localhost:11434/v1")
    assert err.kind == "not_found" and "try pulling it first" in str(err)


def test_context_length_exceeded() -> None:
    err = failure(oai_error(400, "This model's maximum context length is 128000 tokens.", "context_length_exceeded"))
    assert err.kind == "context_length"


def test_quota_exhausted_is_not_retried() -> None:
    server_calls: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        server_calls.append(1)
        return oai_error(429, "You exceeded your current quota.", "insufficient_quota", "insufficient_quota")

    provider = OpenAIChatProvider(ProviderConfig(api_key=KEY, base_url="https://api.openai.com/v1", retry_base_s=0),
                                  transport=httpx.MockTransport(handler))
    with pytest.raises(ProviderError) as info:
        list(provider.stream(request([Message("user", [TextBlock("hi")])])))
    assert len(server_calls) == 1 and info.value.kind == "rate_limit" and "quota" in str(info.value)


def test_error_object_inside_the_stream() -> None:
    data = b'data: {"error": {"message": "upstream provider failed", "code": 502}}\n\n'
    err = failure(stream_reply(data))
    assert "upstream provider failed" in str(err)


def test_chunk_that_is_not_json_is_malformed() -> None:
    err = failure(stream_reply(b"data: {'python': 'repr'}\n\n"))
    assert err.kind == "malformed" and "not JSON" in str(err)


def test_plain_text_reply_is_malformed() -> None:
    err = failure(httpx.Response(200, headers={"content-type": "text/plain"}, content=b"Hello from nginx"))
    assert err.kind == "malformed" and "text/plain" in str(err) and "Hello from nginx" in str(err)


def test_json_that_is_not_a_completion_is_malformed() -> None:
    err = failure(httpx.Response(200, json={"status": "ok"}))
    assert err.kind == "malformed"


def test_null_choice_index_counts_as_the_first_choice() -> None:
    data = b'data: {"id":"x","choices":[{"index":null,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
    assert completed(data).message.text() == "hi"


def test_deepseek_cache_hit_counter_is_used_when_details_are_missing() -> None:
    done = completed(chunks({"content": "x"}, usage={"prompt_tokens": 50, "completion_tokens": 1,
                                                     "prompt_cache_hit_tokens": 32, "prompt_cache_miss_tokens": 18}))
    assert (done.usage.input_tokens, done.usage.cache_read_input_tokens) == (18, 32)


def test_undecodable_body_is_one_line_error() -> None:
    reply = httpx.Response(200, headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
                           content=iter([b"this is not gzip"]))
    err = failure(reply)
    assert err.kind == "transport"


def test_prompt_cache_key_only_for_openai_itself():
    from ketch.conversation import Message, ModelRequest, TextBlock
    from ketch.providers.openai_chat import build_body

    request = ModelRequest(model="gpt-5", system="s", messages=[Message("user", [TextBlock("hi")])], cache_key="sess-1")
    assert build_body(request, "https://api.openai.com/v1")["prompt_cache_key"] == "sess-1"
    assert "prompt_cache_key" not in build_body(request, "http://localhost:11434/v1")

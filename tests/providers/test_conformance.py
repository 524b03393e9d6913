"""The official SDKs are the reference decoders: feed them and ketch's codecs the same
recorded streams and require the same text, tool calls, usage and stop reason.

The recordings under tests/data/streams follow the documented wire formats (Anthropic
Messages streaming, OpenAI chat.completion.chunk). The SDKs use `httpx2`, ketch uses
`httpx`; both get a mock transport (and once, a real loopback server) serving the bytes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ketch.conversation import Message, ModelRequest, TextBlock, ThinkingBlock, ToolUseBlock
from ketch.providers.anthropic import AnthropicProvider
from ketch.providers.base import Completed, ProviderConfig, TextChunk, ThinkingChunk
from ketch.providers.openai_chat import OpenAIChatProvider

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")
httpx2 = pytest.importorskip("httpx2")
from openai.lib.streaming.chat import ChatCompletionStreamState

STREAMS = Path(__file__).parents[1] / "data" / "streams"
ANTHROPIC_STREAMS = ["anthropic_text.sse", "anthropic_tool_use.sse", "anthropic_thinking.sse"]
OPENAI_STREAMS = ["openai_text.sse", "openai_tool_calls.sse", "openai_reasoning.sse"]
OPENAI_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def pieces(data: bytes, size: int) -> list[bytes]:
    """Split at arbitrary byte offsets, including inside UTF-8 characters and CRLFs."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def ketch_run(provider_cls: type, base_url: str, data: bytes, size: int) -> tuple[Completed, list[Any]]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces(data, size)))

    provider = provider_cls(ProviderConfig(api_key="sk-test", base_url=base_url, max_retries=0),
                            transport=httpx.MockTransport(handler))
    request = ModelRequest(model="m", system="s", messages=[Message("user", [TextBlock("hi")])])
    events = list(provider.stream(request))
    provider.close()
    assert isinstance(events[-1], Completed)
    return events[-1], events[:-1]


def sdk_transport(data: bytes, size: int) -> Any:
    return httpx2.MockTransport(
        lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"},
                                        content=iter(pieces(data, size)))
    )


def anthropic_sdk_message(http_client: Any, base_url: str = "http://sdk.test") -> Any:
    client = anthropic.Anthropic(api_key="sk-test", base_url=base_url, http_client=http_client, max_retries=0)
    with client.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
        return stream.get_final_message()


def openai_sdk_completion(http_client: Any, base_url: str = "http://sdk.test/v1") -> Any:
    client = openai.OpenAI(api_key="sk-test", base_url=base_url, http_client=http_client, max_retries=0)
    state = ChatCompletionStreamState()
    for chunk in client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True},
    ):
        state.handle_chunk(chunk)
    return state.get_final_completion()


def assert_same_as_anthropic_sdk(ours: Completed, deltas: list[Any], sdk: Any) -> None:
    assert ours.message_id == sdk.id and ours.model == sdk.model
    assert ours.stop_reason == sdk.stop_reason
    assert ours.usage.input_tokens == sdk.usage.input_tokens
    assert ours.usage.output_tokens == sdk.usage.output_tokens
    assert ours.usage.cache_creation_input_tokens == (sdk.usage.cache_creation_input_tokens or 0)
    assert ours.usage.cache_read_input_tokens == (sdk.usage.cache_read_input_tokens or 0)
    expected: list[tuple[Any, ...]] = []
    for block in sdk.content:
        if block.type == "text":
            expected.append(("text", block.text))
        elif block.type == "tool_use":
            expected.append(("tool_use", block.id, block.name, block.input))
        elif block.type == "thinking":
            expected.append(("thinking", block.thinking, block.signature, False))
        elif block.type == "redacted_thinking":
            expected.append(("thinking", "", block.data, True))
    got: list[tuple[Any, ...]] = []
    for b in ours.message.content:
        if isinstance(b, TextBlock):
            got.append(("text", b.text))
        elif isinstance(b, ToolUseBlock):
            assert b.input_error is None
            got.append(("tool_use", b.id, b.name, b.input))
        elif isinstance(b, ThinkingBlock):
            got.append(("thinking", b.thinking, b.signature, b.redacted))
    assert got == expected
    streamed_text = "".join(d.text for d in deltas if isinstance(d, TextChunk))
    assert streamed_text == "".join(b.text for b in sdk.content if b.type == "text")
    streamed_thinking = "".join(d.text for d in deltas if isinstance(d, ThinkingChunk))
    assert streamed_thinking == "".join(b.thinking for b in sdk.content if b.type == "thinking")


def assert_same_as_openai_sdk(ours: Completed, deltas: list[Any], sdk: Any) -> None:
    choice = sdk.choices[0]
    assert ours.message_id == sdk.id and ours.model == sdk.model
    assert ours.stop_reason == OPENAI_STOP[choice.finish_reason]
    cached = sdk.usage.prompt_tokens_details.cached_tokens or 0
    assert ours.usage.input_tokens == sdk.usage.prompt_tokens - cached
    assert ours.usage.cache_read_input_tokens == cached
    assert ours.usage.output_tokens == sdk.usage.completion_tokens
    assert ours.message.text() == (choice.message.content or "")
    assert "".join(d.text for d in deltas if isinstance(d, TextChunk)) == (choice.message.content or "")
    ours_calls = [(b.id, b.name, b.input) for b in ours.message.tool_uses()]
    sdk_calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []]
    assert ours_calls == sdk_calls
    sdk_reasoning = getattr(choice.message, "reasoning_content", None) or ""
    ours_reasoning = "".join(b.thinking for b in ours.message.content if isinstance(b, ThinkingBlock))
    assert ours_reasoning == sdk_reasoning


@pytest.mark.parametrize("size", [4096, 7, 1])
@pytest.mark.parametrize("name", ANTHROPIC_STREAMS)
def test_anthropic_stream_decodes_like_the_sdk(name: str, size: int) -> None:
    data = (STREAMS / name).read_bytes()
    sdk = anthropic_sdk_message(httpx2.Client(transport=sdk_transport(data, size)))
    ours, deltas = ketch_run(AnthropicProvider, "http://ketch.test", data, size)
    assert_same_as_anthropic_sdk(ours, deltas, sdk)


@pytest.mark.parametrize("size", [4096, 7, 1])
@pytest.mark.parametrize("name", OPENAI_STREAMS)
def test_openai_stream_decodes_like_the_sdk(name: str, size: int) -> None:
    data = (STREAMS / name).read_bytes()
    sdk = openai_sdk_completion(httpx2.Client(transport=sdk_transport(data, size)))
    ours, deltas = ketch_run(OpenAIChatProvider, "http://ketch.test/v1", data, size)
    assert_same_as_openai_sdk(ours, deltas, sdk)


@pytest.mark.parametrize("name", ANTHROPIC_STREAMS + OPENAI_STREAMS)
def test_crlf_framing_decodes_like_the_sdk(name: str) -> None:
    data = (STREAMS / name).read_bytes().replace(b"\n", b"\r\n")
    if name.startswith("anthropic"):
        sdk = anthropic_sdk_message(httpx2.Client(transport=sdk_transport(data, 5)))
        ours, deltas = ketch_run(AnthropicProvider, "http://ketch.test", data, 5)
        assert_same_as_anthropic_sdk(ours, deltas, sdk)
    else:
        sdk = openai_sdk_completion(httpx2.Client(transport=sdk_transport(data, 5)))
        ours, deltas = ketch_run(OpenAIChatProvider, "http://ketch.test/v1", data, 5)
        assert_same_as_openai_sdk(ours, deltas, sdk)


def test_recordings_carry_the_features_they_claim() -> None:
    """Guard the oracle: a recording that lost its tricky parts would compare trivially."""
    tool = (STREAMS / "anthropic_tool_use.sse").read_text()
    assert tool.count("input_json_delta") >= 5 and "ping" in tool and "cache_creation_input_tokens\":2048" in tool
    thinking = (STREAMS / "anthropic_thinking.sse").read_text()
    assert "signature_delta" in thinking and "redacted_thinking" in thinking
    calls = (STREAMS / "openai_tool_calls.sse").read_text()
    assert '"index":1,"function":{"arguments"' in calls and '"cached_tokens":1024' in calls


@pytest.fixture
def loopback() -> Iterator[Any]:
    """A real HTTP server on 127.0.0.1 that streams a recording in small flushed writes."""
    served: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            data = served["data"]
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for piece in pieces(data, 97):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(data: bytes) -> str:
        served["data"] = data
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()
    server.server_close()


def test_loopback_http_anthropic(loopback: Any) -> None:
    url = loopback((STREAMS / "anthropic_tool_use.sse").read_bytes())
    sdk = anthropic_sdk_message(httpx2.Client(), base_url=url)
    provider = AnthropicProvider(ProviderConfig(api_key="sk-test", base_url=url, max_retries=0))
    events = list(provider.stream(ModelRequest(model="m", system="", messages=[Message("user", [TextBlock("hi")])])))
    provider.close()
    assert_same_as_anthropic_sdk(events[-1], events[:-1], sdk)


def test_loopback_http_openai(loopback: Any) -> None:
    url = loopback((STREAMS / "openai_tool_calls.sse").read_bytes())
    sdk = openai_sdk_completion(httpx2.Client(), base_url=url + "/v1")
    provider = OpenAIChatProvider(ProviderConfig(api_key=None, base_url=url + "/v1", max_retries=0))
    events = list(provider.stream(ModelRequest(model="m", system="", messages=[Message("user", [TextBlock("hi")])])))
    provider.close()
    assert_same_as_openai_sdk(events[-1], events[:-1], sdk)

"""OpenAI Chat Completions codec, and through it every server that copies the dialect.

Ollama, vLLM, llama.cpp's server, LM Studio, OpenRouter, Groq, DeepSeek and Gemini's
compatible endpoint all speak this dialect, each with small deviations; the decoder is
written to the common denominator (no key, `max_tokens`, missing tool-call ids or
indexes, whole calls in one chunk, reasoning under two names, no `[DONE]`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ketch.conversation import (
    Block,
    Message,
    ModelRequest,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from ketch.providers.base import (
    Completed,
    ProviderConfig,
    ProviderError,
    StreamEvent,
    TextChunk,
    ThinkingChunk,
    UsageReport,
)
from ketch.providers.http import abort_streams, new_client, post_sse
from ketch.providers.retry import (
    Endpoint,
    RetryableError,
    classify_failure,
    error_fields,
    snippet,
    with_retries,
)
from ketch.providers.sse import SSEEvent
from ketch.providers.tool_input import parse_tool_input

if TYPE_CHECKING:
    import httpx

OPENAI_HOST = "api.openai.com"
STOP_REASONS = {
    "stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use",
    "length": "max_tokens", "content_filter": "refusal",
}


def build_body(request: ModelRequest, base_url: str) -> dict[str, Any]:
    """The JSON request body. OpenAI itself wants `max_completion_tokens` (its reasoning
    models reject `max_tokens`); compatible servers mostly know only `max_tokens`."""
    body: dict[str, Any] = {"model": request.model, "messages": encode_messages(request)}
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.input_schema,
            }}
            for t in request.tools
        ]
    is_openai = urlsplit(base_url).hostname == OPENAI_HOST
    body["max_completion_tokens" if is_openai else "max_tokens"] = request.max_tokens
    if is_openai and request.cache_key:
        # Routes a session's requests to the same cache shard, so the stable prefix hits.
        body["prompt_cache_key"] = request.cache_key
    if request.temperature is not None:
        body["temperature"] = request.temperature
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


def encode_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Flatten ketch blocks into chat messages.

    Tool results become `tool` messages right after the assistant's calls, as the API
    requires; text the user typed alongside them follows as a user message. Thinking is
    dropped: this dialect has no way to send reasoning back.
    """
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            out.extend(_encode_user(message.content))
        else:
            out.append(_encode_assistant(message.content))
    return out


def _encode_user(blocks: list[Block]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    texts: list[str] = []
    for block in blocks:
        if isinstance(block, ToolResultBlock):
            content = block.content
            if block.is_error and not content.lower().startswith("error"):
                content = f"Error: {content}"  # the dialect has no error flag
            out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": content})
        elif isinstance(block, TextBlock) and block.text:
            texts.append(block.text)
    if texts or not out:
        out.append({"role": "user", "content": "\n".join(texts)})
    return out


def _encode_assistant(blocks: list[Block]) -> dict[str, Any]:
    text = "\n".join(b.text for b in blocks if isinstance(b, TextBlock) and b.text)
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {
                "name": b.name,
                "arguments": b.raw_input if b.raw_input is not None else json.dumps(b.input, ensure_ascii=False),
            },
        }
        for b in blocks
        if isinstance(b, ToolUseBlock)
    ]
    encoded: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        encoded["tool_calls"] = calls
    return encoded


class ChunkDecoder:
    """Folds `chat.completion.chunk` objects into deltas and the final message."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.finish_reason: str | None = None
        self.usage = Usage()
        self.model = ""
        self.message_id = ""

    def feed(self, chunk: dict[str, Any]) -> Iterator[StreamEvent]:
        if chunk.get("error"):
            message, err_type, code = error_fields(chunk)
            raise classify_failure(self.endpoint, status=None, message=message, err_type=err_type, code=code)
        self.message_id = self.message_id or str(chunk.get("id") or "")
        self.model = self.model or str(chunk.get("model") or "")
        if isinstance(chunk.get("usage"), dict):
            self._set_usage(chunk["usage"])
            yield UsageReport(Usage(**self.usage.as_dict()))
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or (choice.get("index") or 0) != 0:
                continue  # n > 1 is never requested; ignore stray choices
            delta = choice.get("delta") or choice.get("message") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self.reasoning.append(reasoning)
                yield ThinkingChunk(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                self.text.append(content)
                yield TextChunk(content)
            for position, call in enumerate(delta.get("tool_calls") or []):
                self._add_call_piece(position, call)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])

    def _add_call_piece(self, position: int, piece: dict[str, Any]) -> None:
        """Merge one streamed fragment of a tool call into its slot.

        Servers that omit `index` send each call whole (or name first, arguments after), so
        a fragment without an index starts a new slot when it brings a name or a new id.
        """
        function = piece.get("function") or {}
        call_id = piece.get("id") or ""
        index = piece.get("index")
        if not isinstance(index, int):
            known = [i for i, c in enumerate(self.calls) if call_id and c["id"] == call_id]
            if known:
                index = known[0]
            elif function.get("name") or call_id or not self.calls:
                index = len(self.calls)
            else:
                index = len(self.calls) - 1
        while len(self.calls) <= index:
            self.calls.append({"id": "", "name": "", "arguments": ""})
        slot = self.calls[index]
        slot["id"] = slot["id"] or call_id
        slot["name"] = slot["name"] or function.get("name") or ""
        arguments = function.get("arguments")
        if isinstance(arguments, (dict, list)):
            arguments = json.dumps(arguments)  # some servers send an object, not a string
        if isinstance(arguments, str):
            slot["arguments"] += arguments

    def _set_usage(self, usage: dict[str, Any]) -> None:
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if cached is None:
            cached = usage.get("prompt_cache_hit_tokens") or 0  # DeepSeek's own name
        prompt = usage.get("prompt_tokens") or 0
        self.usage = Usage(
            input_tokens=max(0, int(prompt) - int(cached)),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cache_read_input_tokens=int(cached),
        )

    def completed(self) -> Completed:
        content: list[Block] = []
        if self.reasoning:
            content.append(ThinkingBlock(thinking="".join(self.reasoning)))
        if self.text:
            content.append(TextBlock("".join(self.text)))
        for n, call in enumerate(self.calls):
            tool_input, error, raw_input = parse_tool_input(call["arguments"], {})
            content.append(ToolUseBlock(
                id=call["id"] or f"call_{n}", name=call["name"], input=tool_input,
                input_error=error, raw_input=raw_input,
            ))
        stop = STOP_REASONS.get(self.finish_reason or "stop", self.finish_reason or "end_turn")
        if self.calls and stop == "end_turn":
            stop = "tool_use"  # some local servers report "stop" even when they called tools
        return Completed(
            message=Message(role="assistant", content=content), usage=self.usage,
            stop_reason=stop, model=self.model, message_id=self.message_id,
        )


def completion_as_events(payload: Any) -> list[SSEEvent]:
    """A server that ignored `stream: true` answered with one whole completion: replay it
    as a single chunk so the same decoder handles both."""
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        raise ProviderError(
            f"expected a chat completion stream, got JSON: {snippet(json.dumps(payload), 120)}",
            kind="malformed",
        )
    chunk = dict(payload)
    chunk["choices"] = [
        {"index": c.get("index", 0), "delta": c.get("message") or {}, "finish_reason": c.get("finish_reason")}
        for c in payload["choices"] if isinstance(c, dict)
    ]
    return [SSEEvent(data=json.dumps(chunk)), SSEEvent(data="[DONE]")]


def server_label(base_url: str) -> str:
    """Name the server in messages: "OpenAI" only when it is OpenAI."""
    parts = urlsplit(base_url)
    if parts.hostname == OPENAI_HOST:
        return "OpenAI"
    return f"the server at {parts.netloc or base_url}"


class OpenAIChatProvider:
    """A `Provider` for OpenAI Chat Completions and the servers that speak it."""

    name = "openai"

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def stream(self, request: ModelRequest) -> Iterator[StreamEvent]:
        body = build_body(request, self.config.base_url)
        endpoint = Endpoint(
            label=server_label(self.config.base_url), base_url=self.config.base_url,
            key_env="OPENAI_API_KEY", base_url_env="OPENAI_BASE_URL",
            api_key=self.config.api_key, model=request.model,
        )
        yield from with_retries(self.config, lambda: self._attempt(body, endpoint), sleep=self._sleep)

    def abort(self) -> None:
        """Cut the reply being streamed, from another thread: the blocked read raises at once."""
        abort_streams(self._client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _attempt(self, body: dict[str, Any], endpoint: Endpoint) -> Iterator[StreamEvent]:
        decoder = ChunkDecoder(endpoint)
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        events = post_sse(
            self._http(), url, body=body, headers=self._headers(), endpoint=endpoint,
            json_fallback=completion_as_events,
        )
        done = False
        try:
            with closing(events):
                for event in events:
                    if event.data.strip() == "[DONE]":
                        done = True
                        break
                    try:
                        chunk = json.loads(event.data)
                    except ValueError:
                        raise ProviderError(
                            f"{endpoint.label} sent a stream chunk that is not JSON: "
                            f"{snippet(endpoint.scrub(event.data), 120)}", kind="malformed",
                        ) from None
                    if isinstance(chunk, dict):
                        yield from decoder.feed(chunk)
        except RetryableError:
            if decoder.finish_reason is None:
                raise
            # Cut after the finish reason: only the usage chunk can be missing.
        if decoder.finish_reason is None and not done:
            raise RetryableError(
                f"the stream from {endpoint.base_url} was cut before its finish_reason",
                kind="transport", reason="stream cut before finish_reason",
            )
        yield decoder.completed()

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key}"
        headers.update(self.config.extra_headers)
        return headers

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = new_client(self.config, self._transport)
        return self._client

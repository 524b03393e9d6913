"""OpenAI Chat Completions codec, and through it every server that copies the dialect.

Ollama, vLLM, llama.cpp's server, LM Studio, OpenRouter, Groq, DeepSeek and Gemini's
compatible endpoint all speak this dialect, each with small deviations; the request is
written to the common denominator (no key, `max_tokens`), and so is the decoder
(openai_chunks.py).

Two habits of local servers are met here too. With the model's own chat template they often
leave a tool call as text in `content`: from any server but OpenAI, such text naming an offered
tool becomes a call (text_tool_calls.py), held back while it streams. Some refuse to stream
(llama-cpp-python's `chatml-function-calling` raises "Automatic streaming tool choice is not
supported" for `stream: true` with tools): the request is sent once more without streaming, and
that server gets whole requests from then on (retry.refuses_streaming says which errors qualify).
A small model on such a server (`ProviderConfig.structured_replies`) is asked for the embedded model's
grammar-constrained JSON reply instead of tool calls (structured.py), unless the server refuses it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ketch.conversation import Block, ModelRequest, TextBlock, ToolResultBlock, ToolUseBlock
from ketch.errors import KetchError
from ketch.providers.base import ProviderConfig, ProviderError, Retrying, StreamEvent
from ketch.providers.http import abort_streams, new_client, post_sse
from ketch.providers.openai_chunks import ChunkDecoder, completion_as_events
from ketch.providers.retry import Endpoint, RetryableError, refuses_streaming, rejects_format, snippet, with_retries
from ketch.providers.structured import (
    CHARS_PER_TOKEN,
    GrammarIgnored,
    neutralised_body,
    restored_events,
    structured_body,
    structured_events,
)

if TYPE_CHECKING:
    import httpx

OPENAI_HOST = "api.openai.com"


def build_body(request: ModelRequest, base_url: str, *, stream: bool = True) -> dict[str, Any]:
    """The JSON request body. OpenAI itself wants `max_completion_tokens` (its reasoning
    models reject `max_tokens`); compatible servers mostly know only `max_tokens`. Without
    `stream` the body has no streaming keys at all: it is for servers that refuse them."""
    is_openai = urlsplit(base_url).hostname == OPENAI_HOST
    body: dict[str, Any] = {"model": request.model, "messages": encode_messages(request, null_content=is_openai)}
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.input_schema,
            }}
            for t in request.tools
        ]
        if request.tool_choice in {t.name for t in request.tools}:
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    body["max_completion_tokens" if is_openai else "max_tokens"] = request.max_tokens
    if is_openai and request.cache_key:
        # Routes a session's requests to the same cache shard, so the stable prefix hits.
        body["prompt_cache_key"] = request.cache_key
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def encode_messages(request: ModelRequest, *, null_content: bool = True) -> list[dict[str, Any]]:
    """Flatten ketch blocks into chat messages.

    Tool results become `tool` messages right after the assistant's calls, as the API
    requires; text the user typed alongside them follows as a user message. Thinking is
    dropped: this dialect has no way to send reasoning back. An assistant turn of calls only
    has `content: null` for OpenAI and `""` for other servers (`null_content`): llama-cpp-python's
    server rejects the null with a 500, every request after the first call.
    """
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            out.extend(_encode_user(message.content))
        else:
            out.append(_encode_assistant(message.content, null_content))
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


def _encode_assistant(blocks: list[Block], null_content: bool) -> dict[str, Any]:
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
    encoded: dict[str, Any] = {"role": "assistant", "content": text or (None if calls and null_content else "")}
    if calls:
        encoded["tool_calls"] = calls
    return encoded


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
        # Learnt from a refusal, for the rest of the session: "tools" (requests that offer tools
        # go unstreamed) or "all".
        self._unstreamed = ""
        # The small model's constrained reply (structured.py), one step down for the session at each
        # refusal: "blocks" (Writes as file blocks, under a GBNF grammar), "schema" (JSON only), "" (tools).
        self._reply = "blocks" if config.structured_replies else ""

    def stream(self, request: ModelRequest) -> Iterator[StreamEvent]:
        base = self.config.base_url
        endpoint = Endpoint(
            label=server_label(base), base_url=base,
            key_env="OPENAI_API_KEY", base_url_env="OPENAI_BASE_URL",
            api_key=self.config.api_key, model=request.model,
        )
        while True:  # a refusal turns one feature off for the session, so this ends
            refusal: list[tuple[str, KetchError]] = []
            yield from with_retries(self.config, partial(self._try, request, endpoint, refusal), sleep=self._sleep)
            if not refusal:
                return
            kind, exc = refusal[0]
            said = str(exc).partition("): ")[2] or str(exc)  # the server's own words
            if kind in ("grammar", "ignored", "format"):  # the refused field: `grammar` (or ignored), `response_format`
                self._reply = "schema" if kind != "format" else ""
                what = "a reply format (response_format)" if kind == "format" else "a reply grammar (grammar)"
                then = "asking again with OpenAI tool calls" if kind == "format" else "asking again for JSON replies"
            else:
                self._unstreamed = "tools" if request.tools else "all"
                what = "streamed replies when tools are offered" if request.tools else "streamed replies"
                then = "asking again without streaming"
            how = "ignored" if kind == "ignored" else "refused"
            why = "" if kind == "ignored" else f" (HTTP {getattr(exc, 'status', '?')}: {snippet(said, 160)})"
            yield Retrying(attempt=1, delay_s=0.0, reason=(
                f"{endpoint.label} {how} {what}{why}; {then}, as ketch will for the rest of this session"))

    def _try(self, request: ModelRequest, endpoint: Endpoint,
             refusal: list[tuple[str, KetchError]]) -> Iterator[StreamEvent]:
        """One attempt as the session now stands. A refusal of a feature the request used (a reply
        format, streaming) is noted in `refusal` rather than raised: the caller turns it off and asks again."""
        is_openai = urlsplit(endpoint.base_url).hostname == OPENAI_HOST
        structured = bool(self._reply) and bool(request.tools) and not is_openai
        blocks = structured and self._reply == "blocks" and request.file_blocks
        streamed = not (self._unstreamed == "all" or (self._unstreamed == "tools" and request.tools))
        # Calls written as text are a local server's habit; OpenAI's own replies are left alone.
        offered = tuple(t.name for t in request.tools) if not (is_openai or structured) else ()
        body = build_body(request, endpoint.base_url, stream=streamed)
        # The small profile on the server's own tool calls (it refused the reply format): its template
        # still meets the conversation's text, so control tokens are broken there too.
        native_small = self.config.structured_replies and not structured and not is_openai
        if structured:
            body = structured_body(body, request, file_blocks=blocks)
        elif native_small:
            body = neutralised_body(body)
        events = self._attempt(body, endpoint, offered)
        started = False
        try:
            replies: Iterator[StreamEvent] = events
            if structured:
                replies = structured_events(events, grammar="grammar" in body,
                                            max_chars=request.max_tokens * CHARS_PER_TOKEN)
            elif native_small:
                replies = restored_events(events)
            for event in replies:
                started = True
                yield event
        except (RetryableError, ProviderError) as exc:
            if started:
                raise
            if isinstance(exc, GrammarIgnored):
                refusal.append(("ignored", exc))
            elif structured and rejects_format(exc, endpoint):
                refusal.append(("grammar" if "grammar" in body else "format", exc))
            elif streamed and refuses_streaming(exc, endpoint):
                refusal.append(("stream", exc))
            else:
                raise

    def abort(self) -> None:
        """Cut the reply being streamed, from another thread: the blocked read raises at once."""
        abort_streams(self._client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _attempt(self, body: dict[str, Any], endpoint: Endpoint,
                 offered: tuple[str, ...]) -> Generator[StreamEvent, None, None]:
        decoder = ChunkDecoder(endpoint, offered)
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        events = post_sse(
            self._http(), url, body=body, headers=self._headers(streamed="stream" in body), endpoint=endpoint,
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
        yield from decoder.flush()
        yield decoder.completed()

    def _headers(self, *, streamed: bool = True) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "text/event-stream" if streamed else "application/json"}
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key}"
        headers.update(self.config.extra_headers)
        return headers

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = new_client(self.config, self._transport)
        return self._client

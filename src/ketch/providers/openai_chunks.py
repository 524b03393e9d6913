"""Folding an OpenAI Chat Completions stream (or one whole completion) into ketch's events.

Written to the common denominator of the servers that copy the dialect: missing tool-call
ids or indexes, whole calls in one chunk, arguments sent as an object, reasoning under two
names, usage under DeepSeek's name, "stop" reported with calls. With the names of the tools
offered, text that may be a call written as text (a local server's habit) is held back and
decided at the message's end (text_tool_calls.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ketch.conversation import Block, Message, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from ketch.providers.base import Completed, ProviderError, StreamEvent, TextChunk, ThinkingChunk, UsageReport
from ketch.providers.retry import Endpoint, classify_failure, error_fields, snippet
from ketch.providers.sse import SSEEvent
from ketch.providers.text_tool_calls import TextCall, TextCallFilter, new_call_id
from ketch.providers.tool_input import parse_tool_input

STOP_REASONS = {
    "stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use",
    "length": "max_tokens", "content_filter": "refusal",
}


class ChunkDecoder:
    """Folds `chat.completion.chunk` objects into deltas and the final message.

    With `offered` tool names, text that may be a call written as text is held back while it
    streams, and `flush` decides at the end what it was.
    """

    def __init__(self, endpoint: Endpoint, offered: tuple[str, ...] = ()) -> None:
        self.endpoint = endpoint
        self.offered = offered
        self.held = TextCallFilter() if offered else None
        self.text_calls: list[TextCall] = []
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
                shown = self.held.feed(content) if self.held is not None else content
                if shown:
                    self.text.append(shown)
                    yield TextChunk(shown)
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

    def flush(self) -> Iterator[StreamEvent]:
        """At the message's end: calls in the held text become calls, unless the server sent
        real ones; what is not a call is shown as it was written."""
        if self.held is None:
            return
        rest, self.text_calls = self.held.finish(() if self.calls else self.offered)
        self.held = None
        if rest:
            self.text.append(rest)
            yield TextChunk(rest)

    def completed(self) -> Completed:
        content: list[Block] = []
        if self.reasoning:
            content.append(ThinkingBlock(thinking="".join(self.reasoning)))
        text = "".join(self.text)
        if self.text_calls:
            text = text.rstrip()
        if text:
            content.append(TextBlock(text))
        for n, call in enumerate(self.calls):
            tool_input, error, raw_input = parse_tool_input(call["arguments"], {})
            content.append(ToolUseBlock(
                id=call["id"] or f"call_{n}", name=call["name"], input=tool_input,
                input_error=error, raw_input=raw_input,
            ))
        content.extend(ToolUseBlock(id=new_call_id(), name=c.name, input=c.input) for c in self.text_calls)
        stop = STOP_REASONS.get(self.finish_reason or "stop", self.finish_reason or "end_turn")
        if (self.calls or self.text_calls) and stop == "end_turn":
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

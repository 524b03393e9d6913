"""A small model on the user's own server gets the embedded model's reply format: one JSON object,
constrained by the server's grammar, instead of the server's own tool calling.

Measured (issue 16): qwen2.5-coder-1.5b behind llama-cpp-python's server, offered ketch's tools the
OpenAI way (rendered by the model's template as Qwen's `<tools>` block, ~2,400 prompt tokens), answered
a shown failure with the corrected code as Markdown, or with "I'm sorry, but I can't assist with that
request", never with a call (tune split; 0 of 8 held-out tasks solved, 4 of 8 with this). The same model in process, asked for
`{"answer": ...}` or `{"name": TOOL, "arguments": {...}}` under a grammar (providers/local/), edits.
So for the small-model profile on any server but OpenAI the request carries the conversation as the
embedded model sees it (`chat_messages`: the compact tool list and the reply format in the system
prompt, tool results as user turns) and `response_format` with the reply's JSON schema, which
llama.cpp's server and llama-cpp-python's turn into a grammar; the reply is read back with the
embedded model's reader (`parse_reply`), its answer streamed as it decodes. A server that rejects
`response_format` gets the OpenAI tool format for the rest of the session (openai_chat.py).

A Write goes as a file block, as the embedded model writes it (local/file_reply.py), where the reply
may be a Write: such a request carries a GBNF `grammar` (llama.cpp's server and llama-cpp-python's take
it; ketch's own converter, local/gbnf.py) instead of `response_format`, which cannot express a block.
A server that refuses the field, or ignores it (a reply neither JSON nor a block, not cut off: no
grammar constrained it), gets JSON replies, Write included, for the rest of the session.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import replace
from typing import Any

from ketch.conversation import Block, Message, ModelRequest, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from ketch.providers.base import Completed, ProviderError, StreamEvent, TextChunk
from ketch.providers.local.file_reply import FILE_TOOL
from ketch.providers.local.format import (
    chat_messages,
    neutralise_control_tokens,
    reply_grammar,
    reply_plan,
    reply_schema_for,
    restore_control_tokens,
)
from ketch.providers.local.gbnf import schema_to_gbnf
from ketch.providers.local.reply import AnswerStream, each_string, loop_cut, parse_reply


class GrammarIgnored(ProviderError):
    """The server answered a request that carried a `grammar` with text no grammar allows."""


# A server is not bound by the request's max_tokens: a reply holding more characters than that many
# tokens could (CHARS_PER_TOKEN each, far above any tokenizer's average) is cut there, as if at the token
# limit. Reading on would cost time that grows with the square of the reply (the answer is decoded and
# checked for loops as it comes, the raw text kept whole): red team, megabytes from a hostile server
# kept ketch busy for minutes and more.
CHARS_PER_TOKEN = 32


def structured_body(body: dict[str, Any], request: ModelRequest, *, file_blocks: bool = False) -> dict[str, Any]:
    """`body` (the OpenAI request) asking instead for one constrained reply: plain role/content messages,
    no `tools`, the reply's schema as `response_format`, or, with `file_blocks` where the reply may be a
    Write, its GBNF as `grammar`. Sampling and streaming keys stay as they were."""
    out = {k: v for k, v in body.items() if k not in ("tools", "tool_choice")}
    out["messages"] = chat_messages(request.system, request.messages, request.tools, structured=True,
                                    file_blocks=file_blocks)
    if file_blocks and FILE_TOOL in reply_plan(request)[1]:
        out["grammar"] = reply_grammar(request, schema_to_gbnf)
    else:
        out["response_format"] = {"type": "json_object", "schema": reply_schema_for(request)}
    return out


def structured_events(events: Generator[StreamEvent, None, None], *, grammar: bool = False,
                      max_chars: int | None = None) -> Iterator[StreamEvent]:
    """One attempt's events with the reply read back: the answer's text streamed as it decodes, and
    the completed message as an answer or a call (a file block too, after a `grammar` request). An
    answer going round in circles is cut after its first round, and the stream with it; so is a reply
    longer than `max_chars`, read as cut off by the token limit. A `grammar` request answered with
    unconstrained text raises GrammarIgnored, before anything was passed on."""
    answer = AnswerStream()
    held: list[StreamEvent] = []  # after a `grammar` request, other events wait for the reply's verdict
    with closing(events):
        for event in events:
            if isinstance(event, TextChunk) and max_chars is not None and len(answer.raw) + len(event.text) > max_chars:
                content, stop = parse_reply(answer.raw, answer.text, True, file_blocks=grammar)
                yield from held
                yield Completed(Message("assistant", content), Usage(), stop)
                return
            if isinstance(event, TextChunk):
                shown = answer.feed(event.text)
                if not shown:
                    continue
                yield from held
                held.clear()
                yield TextChunk(shown)
                looped = loop_cut(answer.text)
                if looped is not None:
                    yield Completed(Message("assistant", [TextBlock(answer.text[:looped].rstrip())]), Usage(), "end_turn")
                    return
            elif isinstance(event, Completed):
                thinking: list[Block] = [b for b in event.message.content if isinstance(b, ThinkingBlock)]
                cut_off = event.stop_reason == "max_tokens"
                content, stop = parse_reply(answer.raw, answer.text, cut_off, file_blocks=grammar)
                if grammar and not cut_off and isinstance(content[0], TextBlock) and not answer.raw.lstrip().startswith("{"):
                    raise GrammarIgnored("the server ignored the reply grammar", kind="bad_request")
                yield from held
                yield Completed(Message("assistant", [*thinking, *content]), event.usage, stop,
                                model=event.model, message_id=event.message_id)
            elif grammar and not answer.text:
                held.append(event)
            else:
                yield event


def neutralised_body(body: dict[str, Any]) -> dict[str, Any]:
    """`body` (an OpenAI request with the server's own tool calling: the small profile after the server
    refused `response_format`) with chat-template control tokens broken in every message, call and tool
    definition, as `chat_messages` breaks them: the server renders its template and tokenizes it with
    special tokens on, so a file's `<|im_start|>` would forge a turn (red team)."""
    out = dict(body)
    out["messages"] = each_string(body["messages"], neutralise_control_tokens)
    if "tools" in body:
        out["tools"] = [{**tool, "function": {k: v if k == "name" else each_string(v, neutralise_control_tokens)
                                              for k, v in tool["function"].items()}} for tool in body["tools"]]
    return out


def restored_events(events: Generator[StreamEvent, None, None]) -> Iterator[StreamEvent]:
    """The events of a reply to a `neutralised_body` request, with control tokens whole again in the
    completed message (reply.parse_reply does this for the constrained replies)."""
    with closing(events):
        for event in events:
            if isinstance(event, Completed):
                content: list[Block] = []
                for block in event.message.content:
                    if isinstance(block, TextBlock):
                        block = TextBlock(restore_control_tokens(block.text))
                    elif isinstance(block, ToolUseBlock):
                        block = replace(block, input=each_string(block.input, restore_control_tokens),
                                        raw_input=each_string(block.raw_input, restore_control_tokens))
                    content.append(block)
                event = replace(event, message=Message(event.message.role, content))
            yield event

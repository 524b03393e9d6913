"""How full the context window is, and compaction when it gets too full.

The provider's reported usage is the truth; between reports the size of new messages is
estimated by characters, scaled by the ratio the last report showed (no tokenizer is
downloaded or imported). Compaction replaces old turns with a summary that the model
writes in one visible, announced request; the user's own messages, the task list and the
files touched are kept verbatim beside it, so neither the task nor the instructions can be
lost, and the latest exchange is kept as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from ketch.agent import events as ev
from ketch.agent.billing import AttemptTally
from ketch.conversation import (
    Message,
    ModelRequest,
    TextBlock,
    ThinkingBlock,
    ToolDef,
    ToolResultBlock,
    Usage,
    block_to_dict,
)
from ketch.providers.base import Completed, ProviderError, Retrying

if TYPE_CHECKING:
    from ketch.agent.loop import Agent

DEFAULT_WINDOW = 128_000
DEFAULT_THRESHOLD = 0.8
SUMMARY_RESULT_CHARS = 2_000  # tool results are cut to this inside the summary request


def _chars(system: str, messages: list[Message], tools: list[ToolDef]) -> int:
    size = len(system) + sum(len(t.description) + len(json.dumps(t.input_schema)) for t in tools)
    for message in messages:
        for block in message.content:
            size += len(json.dumps(block_to_dict(block), ensure_ascii=False))
    return size


@dataclass
class ContextMeter:
    """Estimated tokens of the next request, calibrated by each usage report."""

    window: int = DEFAULT_WINDOW
    threshold: float = DEFAULT_THRESHOLD
    chars_per_token: float = 4.0
    last_tokens: int = 0

    def observe(self, request: ModelRequest, usage: Usage) -> None:
        """After a reply: the request's true size is what the provider billed as input."""
        tokens = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        chars = _chars(request.system, request.messages, request.tools)
        if tokens > 0 and chars > 0:
            self.chars_per_token = max(1.0, min(8.0, chars / tokens))
        self.last_tokens = tokens + usage.output_tokens

    def estimate(self, system: str, messages: list[Message], tools: list[ToolDef]) -> int:
        return int(_chars(system, messages, tools) / self.chars_per_token)

    def over_threshold(self, system: str, messages: list[Message], tools: list[ToolDef]) -> bool:
        return self.estimate(system, messages, tools) > self.threshold * self.window


def summary_request(model: str, system: str, messages: list[Message], max_tokens: int,
                    focus: str | None = None) -> ModelRequest:
    """The request that asks the model for the summary: history with long results cut."""
    prompt = (resources.files("ketch") / "prompts" / "compact.md").read_text(encoding="utf-8")
    if focus:
        prompt += f"\nFocus the summary on: {focus}\n"
    slim: list[Message] = []
    for message in messages:
        blocks: list[Any] = []
        for block in message.content:
            if isinstance(block, ToolResultBlock) and len(block.content) > SUMMARY_RESULT_CHARS:
                half = SUMMARY_RESULT_CHARS // 2
                block = ToolResultBlock(block.tool_use_id, block.content[:half] + "\n[...]\n" + block.content[-half:],
                                        block.is_error)
            elif isinstance(block, ThinkingBlock):
                continue
            blocks.append(block)
        slim.append(Message(message.role, blocks or [TextBlock("(empty)")]))
    # The summary request ends with a user turn asking for the summary.
    if slim and slim[-1].role == "user":
        slim[-1] = Message("user", [*slim[-1].content, TextBlock(prompt)])
    else:
        slim.append(Message("user", [TextBlock(prompt)]))
    return ModelRequest(model=model, system=system, messages=slim, tools=[], max_tokens=min(max_tokens, 8192))


@dataclass
class Compaction:
    """What replaced the history, for the event stream and the transcript."""

    summary: str
    kept_messages: int
    tokens_before: int
    tokens_after: int
    transcript: str = ""
    instructions: list[str] = field(default_factory=list)


def compacted_history(messages: list[Message], summary: str, *, instructions: list[str],
                      todos: list[dict[str, Any]], files: list[str], transcript: str) -> list[Message]:
    """[the summary with verbatim instructions, task list and files] + the latest exchange.

    `instructions` are every prompt the user gave in this session (kept by the agent, so
    they survive any number of compactions); the latest exchange stays exact so pending
    tool calls keep their results and the current request stays the last message.
    """
    keep: list[Message] = []
    if len(messages) >= 2 and messages[-1].role == "user" and messages[-2].role == "assistant" \
            and messages[-2].tool_uses():
        keep = messages[-2:]
    elif messages and messages[-1].role == "user":
        keep = messages[-1:]
    parts = ["<compacted-context>",
             "Earlier turns of this session were compacted. Summary written before compaction:", summary.strip()]
    if instructions:
        parts.append("The user's messages in this session, verbatim and in order (they still apply):")
        parts += [f"<user-message>\n{text}\n</user-message>" for text in instructions]
    if todos:
        parts.append("Task list (TodoWrite), verbatim:")
        parts += [f"- [{t.get('status', '')}] {t.get('content', '')}" for t in todos]
    if files:
        parts.append("Files read or changed so far: " + ", ".join(files))
    if transcript:
        parts.append(f"The full transcript is kept at {transcript}.")
    parts.append("</compacted-context>")
    head = Message("user", [TextBlock("\n\n".join(parts))])
    if not keep:
        return [head]
    if keep[0].role == "assistant":
        return [head, *keep]
    # Roles must alternate: an acknowledgement separates the summary from a kept user message.
    return [head, Message("assistant", [TextBlock("Understood; continuing from the summary.")]), *keep]


def compact(agent: Agent, focus: str | None = None, reason: str = "requested") -> Iterator[ev.Event]:
    """Replace the agent's old turns with a model-written summary (one visible request, its
    cost counted). A failed or empty summary leaves the conversation as it was."""
    meter = agent.meter
    assert meter is not None
    if agent.hooks is not None:
        yield from agent.hooks.pre_compact("manual" if reason == "requested" else "auto", focus or "").events
    tools = [t.definition() for t in agent.tools]
    before = meter.estimate(agent.config.system_prompt, agent.messages, tools)
    yield ev.Compacting(tokens_before=before, reason=reason)
    request = summary_request(agent.config.model, agent.system_as_sent(), agent.messages,
                              agent.config.max_tokens, focus)
    summary = ""
    tally = AttemptTally()
    try:
        for item in agent.provider.stream(request):
            tally.observe(item)
            if isinstance(item, Retrying):
                yield from agent.bill_unfinished(tally, request)
                yield ev.Retry(item.attempt, item.delay_s, item.reason)
            elif isinstance(item, Completed):
                summary = item.message.text()
                agent.bill(item.usage)
                tally.reset()
    except ProviderError as exc:
        yield from agent.bill_unfinished(tally, request)
        yield ev.Error(f"compaction failed, the conversation is unchanged: {exc}", kind="compaction")
        return
    if not summary.strip():
        yield ev.Error("compaction failed: the model wrote an empty summary", kind="compaction")
        return
    agent.messages[:] = compacted_history(
        agent.messages, summary, instructions=agent.instructions, todos=list(agent.state.todos),
        files=sorted(agent.state.read_files), transcript=agent.config.transcript_path,
    )
    agent.compacted_len = len(agent.messages)  # not again until the history has grown
    after = meter.estimate(agent.config.system_prompt, agent.messages, tools)
    yield ev.Compacted(summary=summary, tokens_before=before, tokens_after=after, messages=list(agent.messages))

"""The neutral conversation model shared by the agent loop and every provider codec.

Each codec translates these blocks to and from its own wire dialect, so the loop never
knows which API it is talking to. The shape follows Anthropic's content blocks because
they are the richest (thinking with signatures, tool results with error flags); the
OpenAI codec flattens them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class TextBlock:
    text: str
    type: Literal["text"] = "text"


@dataclass
class ThinkingBlock:
    """Model reasoning; Anthropic requires the signature to be sent back unchanged.

    `redacted` marks Anthropic's encrypted `redacted_thinking`: `thinking` is empty and
    `signature` holds the opaque `data`, which must also go back unchanged.
    """

    thinking: str
    signature: str = ""
    type: Literal["thinking"] = "thinking"
    redacted: bool = False


@dataclass
class ToolUseBlock:
    """A tool call as the model made it.

    `input_error` is set when the model's arguments were not a JSON object: the loop
    answers with an error result instead of running anything, and `raw_input` keeps the
    original text so it can be echoed back to dialects that carry arguments as a string.
    """

    id: str
    name: str
    input: dict[str, Any]
    input_error: str | None = None
    raw_input: str | None = None
    type: Literal["tool_use"] = "tool_use"


@dataclass
class ToolResultBlock:
    tool_use_id: str
    content: str
    is_error: bool = False
    type: Literal["tool_result"] = "tool_result"


Block = TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock


@dataclass
class Message:
    role: Literal["user", "assistant"]
    content: list[Block]

    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    def tool_uses(self) -> list[ToolUseBlock]:
        return [b for b in self.content if isinstance(b, ToolUseBlock)]


@dataclass
class Usage:
    """Token counts in Anthropic's terms: `input_tokens` excludes cached tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_creation_input_tokens += other.cache_creation_input_tokens
        self.cache_read_input_tokens += other.cache_read_input_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass
class ToolDef:
    """What a provider needs to advertise one tool to the model."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class ModelRequest:
    """One call to a model: everything a codec needs, nothing it must not see."""

    model: str
    system: str
    messages: list[Message]
    tools: list[ToolDef] = field(default_factory=list)
    max_tokens: int = 8192
    temperature: float | None = None
    cache_key: str | None = None  # stable per session: OpenAI's prompt_cache_key
    # The reply must call this tool (one of `tools`): the APIs' tool_choice; the small-model profile's
    # closed loop sets it to Write after showing a short file whole (agent/verify/closed_loop.py).
    tool_choice: str | None = None
    # With tool_choice Write, the files it may write (workspace-relative); empty: any. Only the small
    # reply grammar can hold a call to them: offered only a file block, qwen2.5-coder-1.5b wrote its prose
    # as blocks named "To.fix,replace", "with" and "and" (a server, tune split).
    choice_paths: tuple[str, ...] = ()
    # A small model may write whole files as blocks (providers/local/file_reply.py): only when the run
    # asks for a change. Measured (the README's "summarise what this project does"): offered a block,
    # qwen2.5-coder-1.5b began its prose answer as a block's path and looped there ("TheREADME.md,README.md,...").
    file_blocks: bool = True


def valid_text(text: str) -> str:
    """`text` as valid Unicode: lone surrogates (undecodable bytes carried by surrogateescape, or a
    `\\ud800` escape in a model's JSON) become U+FFFD, so no request, transcript or terminal
    write can fail on them, and a session that once held them still resumes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def valid_value(value: Any) -> Any:
    """`valid_text` through a JSON value (a tool call's input)."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(str(k)): valid_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_value(v) for v in value]
    return value


def valid_message(message: Message) -> Message:
    """The message with every string in it made valid (see valid_text); itself when already valid."""
    import dataclasses

    blocks: list[Block] = []
    for block in message.content:
        fields = {f.name: getattr(block, f.name) for f in dataclasses.fields(block)}
        clean = {k: valid_value(v) for k, v in fields.items()}
        blocks.append(block if clean == fields else dataclasses.replace(block, **clean))
    return Message(message.role, blocks)


def block_to_dict(block: Block) -> dict[str, Any]:
    """Claude-Code-compatible JSON shape of a block, for transcripts and stream-json."""
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ThinkingBlock):
        if block.redacted:
            return {"type": "redacted_thinking", "data": block.signature}
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return {
        "type": "tool_result",
        "tool_use_id": block.tool_use_id,
        "content": block.content,
        "is_error": block.is_error,
    }


def block_from_dict(data: dict[str, Any]) -> Block:
    """Inverse of `block_to_dict`; raises ValueError on an unknown block type."""
    kind = data.get("type")

    def text(key: str, default: str | None = None) -> str:
        return valid_text(str(data[key] if default is None else data.get(key, default)))

    if kind == "text":
        return TextBlock(text=text("text"))
    if kind == "thinking":
        return ThinkingBlock(thinking=text("thinking"), signature=text("signature", ""))
    if kind == "redacted_thinking":
        return ThinkingBlock(thinking="", signature=text("data"), redacted=True)
    if kind == "tool_use":
        return ToolUseBlock(id=text("id"), name=text("name"), input=valid_value(dict(data.get("input") or {})))
    if kind == "tool_result":
        return ToolResultBlock(
            tool_use_id=text("tool_use_id"),
            content=text("content", ""),
            is_error=bool(data.get("is_error", False)),
        )
    raise ValueError(f"unknown content block type {kind!r}")

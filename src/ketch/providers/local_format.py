"""What a small local model sees: chat messages for its own template, a compact tool list,
and the JSON-schema of the one reply it may give (an answer, or exactly one tool call).

Small models cannot be trusted to follow a tool-call syntax, so the reply is decoded under a
grammar built from `reply_schema`: `{"answer": "..."}` or `{"name": TOOL, "arguments": {...}}`
where NAME is one of the offered tools and the arguments follow that tool's schema. Every call
is then well-formed by construction. Pure functions: no llama_cpp here.
"""

from __future__ import annotations

import json
from typing import Any

from ketch.conversation import Message, TextBlock, ThinkingBlock, ToolDef, ToolResultBlock, ToolUseBlock

# Schema keys that only explain; the grammar ignores them and the prompt lists tools itself.
_PROSE_KEYS = ("description", "default", "examples", "title")
MAX_TOOL_DESCRIPTION = 160
RESULT_NUDGE = 'If this is enough to answer, reply with {"answer": ...}.'


def _strip_prose(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_prose(v) for k, v in schema.items() if k not in _PROSE_KEYS}
    if isinstance(schema, list):
        return [_strip_prose(v) for v in schema]
    return schema


def reply_schema(tools: list[ToolDef]) -> dict[str, Any]:
    """One of: an answer, or a call of one offered tool with its typed arguments."""
    options: list[dict[str, Any]] = [{
        "type": "object", "properties": {"answer": {"type": "string"}},
        "required": ["answer"], "additionalProperties": False,
    }]
    for tool in tools:
        options.append({
            "type": "object",
            "properties": {"name": {"const": tool.name}, "arguments": _strip_prose(tool.input_schema)},
            "required": ["name", "arguments"], "additionalProperties": False,
        })
    return {"oneOf": options}


def _first_sentence(text: str) -> str:
    line = " ".join(text.split())
    cut = line.find(". ")
    line = line[: cut + 1] if cut > 0 else line
    return line if len(line) <= MAX_TOOL_DESCRIPTION else line[: MAX_TOOL_DESCRIPTION - 3] + "..."


def _signature(tool: ToolDef) -> str:
    props = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    args = []
    for name, spec in props.items():
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        args.append(f"{name}{'' if name in required else '?'}: {kind}")
    return f"{tool.name}({', '.join(args)})"


def template_tools(tools: list[ToolDef]) -> list[dict[str, Any]]:
    """Tools in the OpenAI shape chat templates expect (Qwen's renders them natively: measured,
    qwen2.5-coder-1.5b then calls Read for "what is in notes.txt?", and answers blind without)."""
    return [{"type": "function", "function": {"name": t.name, "description": _first_sentence(t.description),
                                              "parameters": _strip_prose(t.input_schema)}} for t in tools]


def tools_prompt(tools: list[ToolDef], *, listed: bool = True) -> str:
    """The reply format, and the tool list unless the chat template renders the tools itself."""
    lines = ["Tools:", *[f"- {_signature(t)}: {_first_sentence(t.description)}" for t in tools], ""] if listed else []
    lines += [
        'Reply with exactly one JSON object. To use a tool: {"name": "Read", "arguments": {"file_path": "notes.txt"}}.',
        'When you have the answer: {"answer": "your answer"}. Tool results come back in the next message.',
    ]
    return "\n".join(lines)


def _assistant_text(message: Message) -> str:
    """A past reply as the model would have written it, so the cached prefix stays valid."""
    parts = []
    for block in message.content:
        if isinstance(block, ToolUseBlock):
            parts.append(json.dumps({"name": block.name, "arguments": block.input}, ensure_ascii=False))
        elif isinstance(block, TextBlock) and block.text:
            parts.append(json.dumps({"answer": block.text}, ensure_ascii=False))
    return "\n".join(parts)


def _user_text(message: Message, names: dict[str, str]) -> str:
    parts = []
    results = False
    for block in message.content:
        if isinstance(block, ToolResultBlock):
            results = True
            verb = "failed" if block.is_error else "returned"
            parts.append(f"{names.get(block.tool_use_id, 'The tool')} {verb}:\n{block.content}")
        elif isinstance(block, TextBlock):
            parts.append(block.text)
    if results:  # measured on smollm2: without this nudge it calls the same tool again
        parts.append(RESULT_NUDGE)
    return "\n\n".join(parts)


def chat_messages(system: str, messages: list[Message], tools: list[ToolDef], *, structured: bool,
                  native_tools: bool = False) -> list[dict[str, str]]:
    """Role/content dicts for the model's chat template. Tool results become user turns:
    every template accepts those, while a `tool` role is rendered (or rejected) differently by each."""
    names = {b.id: b.name for m in messages for b in m.content if isinstance(b, ToolUseBlock)}
    system_text = system + ("\n\n" + tools_prompt(tools) if tools and not native_tools else "")
    out = [{"role": "system", "content": system_text}]
    for message in messages:
        if message.role == "assistant":
            text = _assistant_text(message) if structured else message.text()
            if not text and any(isinstance(b, ThinkingBlock) for b in message.content):
                continue
            out.append({"role": "assistant", "content": text})
        else:
            text = _user_text(message, names)
            if out[-1]["role"] == "user":  # templates expect turns to alternate
                out[-1]["content"] += "\n\n" + text
            else:
                out.append({"role": "user", "content": text})
    return out

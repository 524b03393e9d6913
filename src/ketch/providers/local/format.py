"""What a small local model sees: chat messages for its own template, a compact tool list,
and the JSON-schema of the one reply it may give (an answer, or exactly one tool call).

Small models cannot be trusted to follow a tool-call syntax, so the reply is decoded under a
grammar built from `reply_schema`: `{"answer": "..."}` or `{"name": TOOL, "arguments": {...}}`
where NAME is one of the offered tools and the arguments follow that tool's schema. Every call
is then well-formed by construction. Pure functions: no llama_cpp here.

Measured on qwen2.5-coder-1.5b (one-step probes on made-up tasks: the conversation up to a
tool result, then the model's next reply; and bench/local_tasks.py): the model takes whichever
way out the last message mentions. A line after each tool result inviting `{"answer": ...}`
made it answer after one call in 7 of 7 unfinished tasks, repeating the tool's output as its
answer. With the reply format stated once in the system prompt (prompts/local_reply.md, which
also says that describing a change does not make it) and nothing after the result, it took
the next step in 6 of 7 and answered 5 of 6 finished ones. The tool list is the compact one
below for every template: Qwen's own `<tools>` rendering costs ~430 more prompt tokens (~5 s
here) and scored the same; what it did better, calling a tool before answering, the first-reply
grammar now enforces (providers/local/provider.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from ketch.conversation import Message, ModelRequest, TextBlock, ThinkingBlock, ToolDef, ToolResultBlock, ToolUseBlock
from ketch.providers.local import file_reply
from ketch.providers.local.file_reply import FILE_TOOL

# Schema keys that only explain; the grammar ignores them and the prompt lists tools itself.
_PROSE_KEYS = ("description", "default", "examples", "title")
MAX_TOOL_DESCRIPTION = 160
MAX_SCHEMA_DEPTH = 40  # levels of a tool's schema kept in the reply's schema (ketch's own have 4)
LOOKING_TOOLS = ("Read", "Grep", "Glob")  # read-only: the same call twice gives the same result
FIRST_REPLY_TOOLS = ("Read", "Grep", "Glob", "Bash")  # the tools that look (Bash: to run the tests)
FILE_BLOCK_LINE = "- Write: replace a whole file: its path on one line, then the complete new file in a ``` block."


@cache
def prompt_text(name: str) -> str:
    """A prompt fragment from package data (ketch/prompts/NAME)."""
    return (resources.files("ketch") / "prompts" / name).read_text(encoding="utf-8").strip()


def _strip_prose(schema: Any, depth: int = 0) -> Any:
    """The schema without prose; below MAX_SCHEMA_DEPTH levels, any value (`{}`): an MCP server's schema
    nested hundreds deep made this and the grammar's converter recurse past Python's limit, and every
    request fail while that tool was offered (red team)."""
    if depth >= MAX_SCHEMA_DEPTH and isinstance(schema, (dict, list)):
        return {}
    if isinstance(schema, dict):
        return {k: _strip_prose(v, depth + 1) for k, v in schema.items() if k not in _PROSE_KEYS}
    if isinstance(schema, list):
        return [_strip_prose(v, depth + 1) for v in schema]
    return schema


def reply_schema(tools: list[ToolDef], *, answer: bool = True,
                 only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """One of: an answer (unless `answer` is False), or a call of one offered tool (all of
    them, or those named in `only`) with its typed arguments. Never an empty choice: with no
    answer and none of `only` offered, everything is offered."""
    offered = tools if only is None else [t for t in tools if t.name in only]
    if not answer and not offered:
        answer, offered = True, tools
    options: list[dict[str, Any]] = [{
        "type": "object", "properties": {"answer": {"type": "string"}},
        "required": ["answer"], "additionalProperties": False,
    }] if answer else []
    for tool in offered:
        options.append({
            "type": "object",
            "properties": {"name": {"const": tool.name}, "arguments": _strip_prose(tool.input_schema)},
            "required": ["name", "arguments"], "additionalProperties": False,
        })
    return {"oneOf": options}


def reply_plan(request: ModelRequest) -> tuple[bool, tuple[str, ...]]:
    """(may it answer, the tools it may call) for this reply: the request's tool_choice if it names an
    offered tool, else from the conversation so far (see provider.py's docstring): the first reply to a new request only looks; after a repeated look,
    the answer; after a call failed twice the same way, anything but that tool; otherwise an
    answer or any tool. Never an empty choice (as `reply_schema`)."""
    tools, messages = request.tools, request.messages
    every = tuple(t.name for t in tools)
    if request.tool_choice in every:  # the caller's choice (the closed loop's whole-file Write)
        return False, (request.tool_choice,)
    last = messages[-1] if messages else None
    if last is not None and not any(isinstance(b, ToolResultBlock) for b in last.content):
        looking = tuple(n for n in every if n in FIRST_REPLY_TOOLS)
        return (False, looking) if looking else (True, every)
    if repeated_look(messages):
        return True, ()  # it learnt nothing new: it answers
    if (stuck := repeated_failure(messages)) is not None:
        return True, tuple(n for n in every if n != stuck)
    return True, every


def reply_schema_for(request: ModelRequest) -> dict[str, Any]:
    """The JSON schema this reply must follow (`reply_plan`)."""
    answer, names = reply_plan(request)
    return reply_schema(request.tools, answer=answer, only=names)


def reply_grammar(request: ModelRequest, json_to_gbnf: Callable[[dict[str, Any]], str]) -> str:
    """The GBNF grammar this reply must follow (`reply_plan`), a Write as a file block (file_reply.py)
    and every other choice as JSON; `json_to_gbnf` turns a JSON schema into GBNF (llama_cpp's)."""
    answer, names = reply_plan(request)
    json_names = tuple(n for n in names if n != FILE_TOOL)
    if FILE_TOOL not in names or not request.file_blocks:
        return json_to_gbnf(reply_schema(request.tools, answer=answer, only=names))
    if not answer and not json_names:
        return file_reply.grammar(None, request.choice_paths if request.tool_choice == FILE_TOOL else ())
    return file_reply.grammar(json_to_gbnf(reply_schema(request.tools, answer=answer, only=json_names)))


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


def tools_prompt(tools: list[ToolDef], *, file_blocks: bool = False) -> str:
    """The tool list, one signature per line, and the reply format (prompts/local_reply.md; with
    `file_blocks`, Write as a file block: prompts/local_reply_files.md)."""
    files = file_blocks and any(t.name == FILE_TOOL for t in tools)
    lines = ["Tools:", *[FILE_BLOCK_LINE if files and t.name == FILE_TOOL
                         else f"- {_signature(t)}: {_first_sentence(t.description)}" for t in tools], ""]
    return "\n".join(lines) + "\n" + prompt_text("local_reply_files.md" if files else "local_reply.md")


def _assistant_text(message: Message, file_blocks: bool) -> str:
    """A past reply as the model would have written it, so the cached prefix stays valid: file blocks
    and the answer after them as the grammar has them, anything else as JSON."""
    parts, blocks = [], 0
    for block in message.content:
        if file_blocks and isinstance(block, ToolUseBlock) and block.name == FILE_TOOL and _is_write(block.input):
            parts.append(file_reply.render(block.input["file_path"], block.input["content"]))
            blocks += 1
        elif isinstance(block, ToolUseBlock):
            parts.append(json.dumps({"name": block.name, "arguments": block.input}, ensure_ascii=False))
        elif isinstance(block, TextBlock) and block.text:
            parts.append(json.dumps({"answer": block.text}, ensure_ascii=False))
    return (file_reply.BETWEEN if blocks else "\n").join(parts)


def _is_write(args: dict[str, Any]) -> bool:
    """A Write a file block can show: one that reads back as itself (file_reply.shows). A block cannot
    hold a line that starts with ```, nor a path with a blank or a line break (a Write that came as JSON,
    from another provider or a resumed session: shown as a block, its path would forge lines)."""
    path, content = args.get("file_path"), args.get("content")
    return isinstance(path, str) and isinstance(content, str) and file_reply.shows(path, content)


def _call_key(block: ToolUseBlock) -> str:
    return block.name + json.dumps(block.input, sort_keys=True, ensure_ascii=False)


def _repeats_a_look(calls: list[ToolUseBlock], looking: tuple[str, ...]) -> bool:
    """The last of `calls` repeats an earlier one exactly, with only `looking` calls between."""
    if not calls or calls[-1].name not in looking:
        return False
    last = _call_key(calls[-1])
    for earlier in reversed(calls[:-1]):
        if earlier.name not in looking:
            return False
        if _call_key(earlier) == last:
            return True
    return False


def repeated_look(messages: list[Message], looking: tuple[str, ...] = LOOKING_TOOLS) -> bool:
    """The latest call repeats an earlier call exactly and only read-only calls came between:
    it learnt nothing new, and a small model that does this once tends to go on (measured:
    qwen2.5-coder-1.5b read the same file 8 times)."""
    return _repeats_a_look([b for m in messages if m.role == "assistant" for b in m.content
                            if isinstance(b, ToolUseBlock)], looking)


def repeated_failure(messages: list[Message], looking: tuple[str, ...] = LOOKING_TOOLS) -> str | None:
    """The tool whose latest call (reads aside) failed exactly as the same call did just before it,
    with only reads between, else None.

    A small model that repeats a failing call once goes on repeating it (measured: the same
    no-op Edit seven times, to the turn limit; and the same wrong Edit, then a Read of the file,
    then that Edit again, until the time ran out); the caller takes that tool off the next reply,
    and it stays off while the model only looks."""
    calls = [b for m in messages if m.role == "assistant" for b in m.content if isinstance(b, ToolUseBlock)]
    failed = {b.tool_use_id for m in messages if m.role == "user" for b in m.content
              if isinstance(b, ToolResultBlock) and b.is_error}
    acting = [c for c in calls if c.name not in looking]
    if len(acting) < 2 or not {acting[-1].id, acting[-2].id} <= failed:
        return None
    return acting[-1].name if _call_key(acting[-1]) == _call_key(acting[-2]) else None


def _user_text(message: Message, calls: dict[str, ToolUseBlock], made: list[ToolUseBlock],
               shown: dict[str, str]) -> str:
    """Tool results as `TOOL returned:` text, and nothing after them: an invitation to answer
    there makes a small model stop after one call (see the module docstring). A read repeated
    with nothing changed (`repeated_look`) gets a note, as the next reply must be the answer,
    and, when its text is the one already shown for that call (`shown`: call → text), a pointer
    to it instead of the text again: measured, qwen2.5-coder-1.5b re-read README.md's first
    window, and its 2,632 tokens cost a minute on two cores. All of it depends only on earlier
    turns, so cached prefixes hold."""
    parts = []
    for block in message.content:
        if isinstance(block, ToolResultBlock):
            call = calls.get(block.tool_use_id)
            verb = "failed" if block.is_error else "returned"
            key = _call_key(call) if call is not None else None
            if call is not None and key is not None and shown.get(key) == block.content and len(block.content) > 200:
                parts.append(f"{call.name} {verb} the same text as the first time (above).")
            else:
                parts.append(f"{call.name if call else 'The tool'} {verb}:\n{block.content}")
            if key is not None:
                shown.setdefault(key, block.content)
            if call is not None and call in made and _repeats_a_look(made[:made.index(call) + 1], LOOKING_TOOLS):
                parts.append(prompt_text("local_repeat.md"))
        elif isinstance(block, TextBlock):
            parts.append(block.text)
    return "\n\n".join(parts)


# Chat-template control tokens as text: llama.cpp tokenizes the rendered prompt with special tokens
# on (the template's own markers must become tokens), so these strings in a file, a tool's output or
# a file name would become real turn markers and forge a turn. ChatML and Llama 3 (`<|im_start|>`,
# `<|eot_id|>`), DeepSeek's full-width bars, Gemma's turns, Llama 2 and Mistral's `</s>` and `[INST]`;
# red team: also EXAONE's `[|user|]`, Nemotron-Mini's `<extra_id_1>`, Seed-Coder's `<[begin▁of▁sentence]>`
# and Seed-OSS's `<seed:bos>` (small models Ollama serves, whose templates the first list missed).
_AFTER_ANGLE = (r"[|｜][^\s<>|｜]{1,60}[|｜]>|/?s>|(?:start|end)_of_turn>|extra_id_\d{1,4}>"
                r"|\[[^\s<>\[\]]{1,60}\]>|seed:[a-z_]{1,30}>")
_AFTER_BRACKET = r"/?(?:INST|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS|SYSTEM_PROMPT)\]|\|[^\s\[\]|]{1,60}\|\]"
_JOINER = "\u200c"  # zero-width non-joiner: the text reads the same, the token is no longer there
# One more joiner wherever a token follows its first character after any number of joiners, and one fewer
# on the way back: a file that already holds `<` + joiner + `|im_start|>` reads back byte for byte.
_CONTROL_TOKEN = re.compile(f"<(?={_JOINER}*(?:{_AFTER_ANGLE}))|\\[(?={_JOINER}*(?:{_AFTER_BRACKET}))")
_JOINED = re.compile(f"<{_JOINER}(?={_JOINER}*(?:{_AFTER_ANGLE}))|\\[{_JOINER}(?={_JOINER}*(?:{_AFTER_BRACKET}))")


def neutralise_control_tokens(text: str) -> str:
    """`text` with every chat-template control token broken by an invisible character after its first;
    the same text always gives the same result, so cached prefixes hold."""
    return _CONTROL_TOKEN.sub(lambda m: m.group(0) + _JOINER, text)


def restore_control_tokens(text: str) -> str:
    """The inverse, for what the model writes: a file it read with `</s>` in it, copied into an Edit
    or a Write, must not gain the invisible character (nor lose one it had)."""
    return _JOINED.sub(lambda m: m.group(0)[0], text) if _JOINER in text else text


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The same conversation for a template with no system role (Gemma's): the system text
    opens the first user turn, which is how those models were trained to get instructions."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], messages[1:]
    if rest and rest[0]["role"] == "user":
        return [{"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]


def chat_messages(system: str, messages: list[Message], tools: list[ToolDef], *, structured: bool,
                  system_role: bool = True, file_blocks: bool = False) -> list[dict[str, str]]:
    """Role/content dicts for the model's chat template. Tool results become user turns:
    every template accepts those, while a `tool` role is rendered (or rejected) differently by each.
    Without `system_role` the system prompt is folded into the first user turn. With `file_blocks`
    a Write is asked for, and shown, as a file block (file_reply.py)."""
    calls = {b.id: b for m in messages for b in m.content if isinstance(b, ToolUseBlock)}
    made: list[ToolUseBlock] = []  # the calls so far, in order
    shown: dict[str, str] = {}  # a call's first result text, by the call's name and arguments
    # The tools and the reply format first: the same in every project, so a saved KV state of them
    # serves a new project's first run too (prefix_cache.py); the folder, date and listing follow.
    system_text = (tools_prompt(tools, file_blocks=file_blocks) + "\n\n" if tools else "") + system
    out = [{"role": "system", "content": system_text}]
    for message in messages:
        if message.role == "assistant":
            made += [b for b in message.content if isinstance(b, ToolUseBlock)]
            text = _assistant_text(message, file_blocks) if structured else message.text()
            if not text and any(isinstance(b, ThinkingBlock) for b in message.content):
                continue
            out.append({"role": "assistant", "content": text})
        else:
            text = _user_text(message, calls, made, shown)
            if out[-1]["role"] == "user":  # templates expect turns to alternate
                out[-1]["content"] += "\n\n" + text
            else:
                out.append({"role": "user", "content": text})
    out = [{"role": m["role"], "content": neutralise_control_tokens(m["content"])} for m in out]
    return out if system_role else fold_system(out)

"""Tool calls a model wrote as text, turned back into calls; and streaming that holds them back.

An OpenAI-compatible local server (llama-cpp-python, LM Studio, Ollama, vLLM,
text-generation-webui) that renders the prompt with the model's own chat template often
returns the model's tool call verbatim in `content` instead of `tool_calls`. The shapes
models write, each from its own training:

- Qwen / Hermes:  `<tool_call>\\n{"name": "Read", "arguments": {...}}\\n</tool_call>`; small ones
  also wrap it in `<tools>`, `<tool>`, `<function_call>`, `<json>`, `<xml>` or `<response>`, or
  write `<function name="Read">{...}</function>` (the variants llama.cpp's Hermes parser accepts)
- a fenced block: ```` ```json\\n{"name": ..., "arguments": ...}\\n``` ````
- a bare object on its own line, "arguments" or Llama's "parameters": `{"name": ..., "parameters": {...}}`
- Llama 3.x:      `<|python_tag|>{"name": ..., "parameters": {...}}<|eom_id|>`
- Mistral:        `[TOOL_CALLS][{"name": ..., "arguments": {...}}]`, or `[TOOL_CALLS]Read[ARGS]{...}`
- Llama 3.1 custom tools, Functionary: `<function=Read>{"file_path": "..."}</function>`
- Granite:        `<|tool_call|>[{"name": ..., "arguments": {...}}]`
- llama.cpp's generic format (Gemma, Phi): `{"tool_calls": [{"name": ..., "arguments": ...}]}`

A call is taken only when its name is one of the tools offered and its arguments are a JSON
object: anything else stays text, as written (a call is never invented). Pure functions, and
one small stateful filter for streams; the local provider shares `call_from_object` and
`new_call_id`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

# Tags that wrap one call object (or a list of them), closed by the same tag with a slash.
WRAPPERS = ("<tool_call>", "<function_call>", "<tools>", "<tool>", "<json>", "<xml>", "<response>")
MARKERS = (*WRAPPERS, "<|python_tag|>", "[TOOL_CALLS]", "<|tool_call|>", "<function=", "<function name=")
# Where a call written as text can begin. A fence or a bare object counts only at a line's start:
# mid-sentence braces are code or prose, and holding them back would stall the display.
_START = "|".join(re.escape(m) for m in MARKERS) + r"|^[ \t]*```|^[ \t]*\{"
FENCE_LANGS = ("", "json", "tool_call", "xml")
_FENCE_OPEN = r"[ \t]*```[ \t]*([\w-]*)[ \t]*\n"
_FUNCTION_TAG = r"<function(?:=| name=\"?)([\w.-]+)\"?>"
_MISTRAL_NAMED = r"\s*([\w.-]+)\[ARGS\]"
_LLAMA_END = r"\s*(?:<\|eom_id\|>|<\|eot_id\|>)"

@cache
def _re(pattern: str) -> re.Pattern[str]:
    """Compiled at first use: nothing runs when the module is imported."""
    return re.compile(pattern, re.MULTILINE | re.IGNORECASE)


@cache
def _decoder() -> json.JSONDecoder:
    return json.JSONDecoder(strict=False)  # models put raw newlines in file contents; they mean them


@dataclass(frozen=True)
class TextCall:
    name: str
    input: dict[str, Any]


def new_call_id() -> str:
    """An id for a call the server did not name; kept in the conversation, so it stays the same."""
    return f"call_{os.urandom(12).hex()}"  # os, not uuid: nothing more to import


def call_from_object(value: Any) -> tuple[str, Any] | None:
    """(name, arguments) of a call object as models write it, else None. Arguments are under
    "arguments" or (Llama) "parameters", or the object is OpenAI's {"function": {...}}; None
    stands for arguments that are missing."""
    if not isinstance(value, dict):
        return None
    if "name" not in value and isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str):
        return None
    for key in ("arguments", "parameters"):
        if key in value:
            return name, value[key]
    return name, None


def _arguments(args: Any) -> dict[str, Any] | None:
    if isinstance(args, str):  # OpenAI's own shape: the object encoded as a string
        try:
            args = _decoder().decode(args)
        except ValueError:
            return None
    return args if isinstance(args, dict) else None


def _calls_in(value: Any, offered: Collection[str]) -> list[TextCall] | None:
    """The calls in a decoded object or list of objects, or None unless every one is a call of an
    offered tool with an object of arguments."""
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):  # llama.cpp's generic format
        value = value["tool_calls"]
    elif isinstance(value, dict) and isinstance(value.get("tool_call"), dict):
        value = value["tool_call"]
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        call = call_from_object(item)
        args = _arguments(call[1]) if call is not None else None
        if call is None or call[0] not in offered or args is None:
            return None
        calls.append(TextCall(call[0], args))
    return calls or None


def _json_at(text: str, i: int) -> tuple[Any, int] | None:
    """The JSON value starting at `i` after blanks, and where it ends."""
    while i < len(text) and text[i].isspace():
        i += 1
    try:
        return _decoder().raw_decode(text, i)
    except ValueError:
        return None


def _skip(text: str, i: int, closing: str) -> int:
    """Past `closing` if it follows `i` after blanks, else `i`."""
    j = i
    while j < len(text) and text[j].isspace():
        j += 1
    return j + len(closing) if text[j:j + len(closing)].lower() == closing else i


def _call_at(text: str, match: re.Match[str], offered: Collection[str]) -> tuple[list[TextCall], int] | None:
    """The calls written from `match` on and where their text ends, or None if it is not one."""
    token, end = match.group().lstrip(" \t").lower(), match.end()
    if token in ("<function=", "<function name="):
        tag = _re(_FUNCTION_TAG).match(text, match.start())
        found = _json_at(text, tag.end()) if tag else None
        if tag is None or found is None or not isinstance(found[0], dict) or tag.group(1) not in offered:
            return None
        return [TextCall(tag.group(1), found[0])], _skip(text, found[1], "</function>")
    if token == "[tool_calls]" and (named := _re(_MISTRAL_NAMED).match(text, end)) is not None:
        found = _json_at(text, named.end())
        calls = _calls_in({"name": named.group(1), "arguments": found[0]}, offered) if found else None
        return (calls, found[1]) if calls and found else None
    if token == "```":
        fence = _re(_FENCE_OPEN).match(text, match.start())
        if fence is None or fence.group(1).lower() not in FENCE_LANGS:
            return None
        end = fence.end()
    elif token == "{":
        end = match.end() - 1
    found = _json_at(text, end)
    calls = _calls_in(found[0], offered) if found else None
    if not calls or found is None:
        return None
    stop = found[1]
    if token == "```":
        rest = text[stop:].lstrip()
        if rest and not rest.startswith("```"):
            return None  # more than the call inside the fence: it is an example, not a call
        stop = _skip(text, stop, "```")
    elif token in WRAPPERS:
        stop = _skip(text, stop, "</" + token[1:])
    elif token == "<|python_tag|>":
        tail = _re(_LLAMA_END).match(text, stop)
        stop = tail.end() if tail else stop
    return calls, stop


def _fence_end(text: str, start: int) -> int | None:
    """Past the closing line of the fence opened at `start`, or None while it is open."""
    line_end = text.find("\n", start)
    close = _re(r"^[ \t]*```").search(text, line_end + 1) if line_end >= 0 else None
    return close.end() if close is not None else None


def find_calls(text: str, offered: Collection[str]) -> list[tuple[int, int, list[TextCall]]]:
    """(start, end, calls) for each stretch of `text` that is a call of an offered tool. What is
    inside a fence that is not a call is code: nothing in it starts a call."""
    found = []
    i = 0
    while (match := _re(_START).search(text, i)) is not None:
        call = _call_at(text, match, offered)
        if call is not None:
            found.append((match.start(), call[1], call[0]))
            i = call[1]
        elif match.group().lstrip(" \t") == "```":
            i = _fence_end(text, match.start()) or len(text)
        else:
            i = match.start() + 1
    return found


def extract_calls(text: str, offered: Collection[str], start: int = 0) -> tuple[list[TextCall], str]:
    """(the calls written in `text` from `start` on, that text without them). With no call found
    the text comes back exactly as it was."""
    spans = [span for span in find_calls(text, offered) if span[0] >= start]
    if not spans:
        return [], text[start:]
    calls: list[TextCall] = []
    kept: list[str] = []
    pos = start
    for begin, end, found in spans:
        kept.append(text[pos:begin] if pos == start else text[pos:begin].lstrip())
        calls += found
        pos = end
    kept.append(text[pos:].lstrip())  # the line a call stood on goes with it
    return calls, "".join(kept).strip()


def _verdict(text: str, match: re.Match[str]) -> str:
    """Whether a call may start at `match`: "yes", "no", or "wait" for more text."""
    token, rest = match.group().lstrip(" \t"), text[match.end():]
    if token == "```":
        line_end = rest.find("\n")
        if line_end < 0:
            lang = rest.strip().lower()
            return "wait" if re.fullmatch(r"[\w-]*", lang) and any(f.startswith(lang) for f in FENCE_LANGS) else "no"
        if rest[:line_end].strip().lower() not in FENCE_LANGS:
            return "no"
        rest, opening = rest[line_end + 1:].lstrip(), "{["
    elif token == "{":
        rest, opening = rest.lstrip(), '"'
    else:
        return "yes"
    if not rest:
        return "wait"
    return "yes" if rest[0] in opening else "no"


def _partial_tail(text: str, pos: int) -> int | None:
    """Where the text's end may be the first characters of a call's start, or None."""
    longest = max(len(m) for m in MARKERS)
    for i in range(max(pos, len(text) - longest + 1), len(text)):
        rest = text[i:]
        if any(m.lower().startswith(rest.lower()) for m in MARKERS):
            return i
    line = text.rfind("\n") + 1  # the last line, blank or opening a fence, may become a start
    if max(line, pos) < len(text) and re.fullmatch(r"[ \t]*`{0,2}", text[line:]):
        return max(line, pos)
    return None


def safe_to_show(text: str, scan: int) -> tuple[int, bool, int]:
    """(how far the text can be shown now, whether a call may start there, where the next look
    begins), looking from `scan`. A start that could still go either way ("wait") is held until
    more text comes; a fence that is not a call is shown as it comes, and looked at again from
    its start until it closes, as nothing inside it starts a call."""
    while True:
        match = _re(_START).search(text, scan)
        tail = _partial_tail(text, scan)
        if match is None or (tail is not None and tail < match.start()):
            return (len(text) if tail is None else tail), False, (len(text) if tail is None else tail)
        verdict = _verdict(text, match)
        if verdict != "no":
            return match.start(), verdict == "yes", match.start()
        if match.group().lstrip(" \t") != "```":
            scan = match.start() + 1
        elif (end := _fence_end(text, match.start())) is not None:
            scan = end
        else:
            return len(text), False, match.start()


class TextCallFilter:
    """Feed a reply's text as it streams; get back what may be shown now. From a point where a
    call may start, everything is held to the end of the message, when `finish` decides: a
    call is taken out, anything else is shown as it was. The person never sees a call printed
    and then taken back."""

    def __init__(self) -> None:
        self.raw = ""
        self._shown = 0
        self._scan = 0
        self._holding = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        if self._holding:
            return ""
        upto, self._holding, self._scan = safe_to_show(self.raw, self._scan)
        upto = max(upto, self._shown)
        new, self._shown = self.raw[self._shown:upto], upto
        return new

    def finish(self, offered: Collection[str]) -> tuple[str, list[TextCall]]:
        """(the text still to show, the calls found in what was held). An empty `offered` (the
        reply had real tool calls) takes none."""
        if not self._holding or not offered:
            return self.raw[self._shown:], []
        calls, kept = extract_calls(self.raw, offered, self._shown)
        return kept, calls

"""Turn a grammar-constrained reply back into blocks, and stream an answer's text as it decodes.

The model writes `{"answer": "..."}` or `{"name": TOOL, "arguments": {...}}`. The answer's
characters are shown live (JSON escapes decoded as soon as they are complete); a call becomes
a ToolUseBlock. A reply cut off by the token limit is not well-formed JSON: a cut call becomes
a ToolUseBlock with `input_error` (the loop answers it with an error, nothing runs), a cut
answer keeps the text decoded so far. An answer stuck repeating itself is cut after its first
round (`loop_cut`) instead of running to the token cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ketch.conversation import Block, TextBlock, ToolUseBlock
from ketch.providers.local import file_reply
from ketch.providers.local.format import restore_control_tokens
from ketch.providers.text_tool_calls import call_from_object, new_call_id

_ANSWER_START = re.compile(r'\s*\{\s*"answer"\s*:\s*"')
_TOOL_NAME = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
# An answer whose last LOOP_TAIL characters already occurred LOOP_COUNT times is looping. Measured:
# qwen2.5-coder-1.5b wrote the same two sentences until the 2,048-token cap (5 minutes here).
LOOP_TAIL = 80
LOOP_COUNT = 3
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class AnswerStream:
    """Feed raw reply text; get back the newly decodable characters of the answer string."""

    def __init__(self) -> None:
        self.raw = ""
        self._pos: int | None = None  # where the answer's undecoded characters start
        self._done = False
        self.text = ""

    def feed(self, piece: str) -> str:
        self.raw += piece
        if self._done:
            return ""
        if self._pos is None:
            match = _ANSWER_START.match(self.raw)
            if match is None:
                return ""
            self._pos = match.end()
        out = []
        i, raw = self._pos, self.raw
        while i < len(raw):
            ch = raw[i]
            if ch == '"':
                self._done = True
                i += 1
                break
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            if i + 1 >= len(raw):
                break  # an escape split across tokens: wait for the rest
            code = raw[i + 1]
            if code in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[code])
                i += 2
                continue
            if code != "u" or i + 6 > len(raw):
                if code != "u":  # not valid JSON; the grammar prevents it, keep it literally
                    out.append(code)
                    i += 2
                    continue
                break
            if _is_high_surrogate(raw, i) and len(raw) < i + 12:
                break  # its low half may still be coming
            out.append(_decode_u(raw, i))
            i += 12 if _is_pair(raw, i) else 6
        self._pos = i
        new = "".join(out)
        self.text += new
        return new


def _is_high_surrogate(raw: str, i: int) -> bool:
    try:
        return 0xD800 <= int(raw[i + 2:i + 6], 16) < 0xDC00
    except ValueError:
        return False


def _is_pair(raw: str, i: int) -> bool:
    return _is_high_surrogate(raw, i) and raw[i + 6:i + 8] == "\\u" and len(raw) >= i + 12


def _decode_u(raw: str, i: int) -> str:
    if _is_pair(raw, i):
        pair: str = json.loads('"' + raw[i:i + 12] + '"')
        return pair
    try:
        char: str = json.loads('"' + raw[i:i + 6] + '"')
    except ValueError:
        return "\ufffd"
    return "\ufffd" if 0xD800 <= ord(char) < 0xE000 else char  # a lone surrogate half


def loop_cut(text: str) -> int | None:
    """Where to cut `text` if it is going round in circles, else None: after one round, at the
    last sentence end in it when there is one."""
    if len(text) < LOOP_TAIL * LOOP_COUNT:
        return None
    tail = text[-LOOP_TAIL:]
    if text.count(tail) < LOOP_COUNT:
        return None
    first = text.find(tail)
    second = text.find(tail, first + 1)
    sentence_end = max(text.rfind(mark, 0, second) for mark in ".!?\n")
    return sentence_end + 1 if sentence_end > first else second


def each_string(value: Any, change: Callable[[str], str]) -> Any:
    """`value` with `change` applied to every string in it (dict keys stay: they are names). Used to
    restore control tokens in a call's arguments, here and on a server's native tool calls (structured.py)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: each_string(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [each_string(v, change) for v in value]
    return value


def parse_reply(raw: str, streamed_answer: str, cut_off: bool, *, file_blocks: bool = False) -> tuple[list[Block], str]:
    """(content blocks, stop_reason) from the whole reply text; with `file_blocks`, a reply that is
    not JSON may be a Write as a file block (file_reply.py). Control tokens the prompt showed broken
    (format.neutralise_control_tokens) are whole again in what the model writes, restored once: in the
    raw text of a file block, in the decoded strings of JSON (a joiner written raw or as `\\u200c`; raw
    and then decoded again would take out a joiner the file itself had, red team)."""
    if file_blocks and not raw.lstrip().startswith("{") and \
            (writes := file_reply.parse(restore_control_tokens(raw), cut_off)) is not None:
        cut = isinstance(writes[-1], ToolUseBlock) and writes[-1].input_error is not None and cut_off
        return list(writes), "max_tokens" if cut else "tool_use"
    try:
        # strict=False: llama_cpp's JSON grammar lets raw newlines and tabs into strings (its `char`
        # is [^"\\]), and models write them in file contents; they mean what they say.
        value = json.loads(raw, strict=False)
    except ValueError:
        value = None
    call = call_from_object(value)  # the same reading as a call a server left in text (text_tool_calls)
    if call is not None:
        name, args = call
        if isinstance(args, dict):
            return [ToolUseBlock(id=new_call_id(), name=name, input=each_string(args, restore_control_tokens))], "tool_use"
        return [ToolUseBlock(id=new_call_id(), name=name, input={},
                             input_error="tool arguments are not a JSON object",
                             raw_input=restore_control_tokens(raw))], "tool_use"
    if isinstance(value, dict) and isinstance(value.get("answer"), str):
        return [TextBlock(restore_control_tokens(value["answer"]))], "end_turn"
    started = _TOOL_NAME.match(raw)
    if started is not None:
        reason = "the reply hit the token limit before the arguments were complete" if cut_off \
            else "the reply was not valid JSON"
        return [ToolUseBlock(id=new_call_id(), name=json.loads(f'"{started.group(1)}"'), input={},
                             input_error=reason, raw_input=restore_control_tokens(raw))], \
            "max_tokens" if cut_off else "tool_use"
    text = streamed_answer if _ANSWER_START.match(raw) else restore_control_tokens(raw.strip())
    return [TextBlock(text)], "max_tokens" if cut_off else "end_turn"

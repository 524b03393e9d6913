"""Render a stored session for people (`sessions show`, markdown export) and programs (json).

Pure functions from a loaded session to text: the CLI decides where the text goes.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ketch.agent.sessions.index import SessionInfo
from ketch.conversation import Message, TextBlock, ThinkingBlock, ToolResultBlock, ToolUseBlock, block_to_dict

RESULT_PREVIEW_LINES = 3
PREVIEW_CHARS = 160


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def iso(ts: float) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts)) if ts else None


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def header_lines(info: SessionInfo) -> list[str]:
    lines = [f"session  {info.session_id}", f"folder   {info.cwd or '-'}", f"model    {info.model or '-'}",
             (f"started  {when(info.created)}   last activity {when(info.updated)}   "
              f"{info.turns} turn{'s' if info.turns != 1 else ''}")]
    if info.forked_from:
        lines.append(f"forked from {info.forked_from}")
    return lines


def _preview(text: str) -> str:
    lines = text.splitlines() or [""]
    shown = [one_line(line, PREVIEW_CHARS) for line in lines[:RESULT_PREVIEW_LINES]]
    more = len(lines) - RESULT_PREVIEW_LINES
    if more > 0:
        shown.append(f"(+{more} more line{'s' if more > 1 else ''})")
    return "\n     ".join(shown)


def render_text(info: SessionInfo, messages: list[Message]) -> str:
    """A readable transcript: prompts, answers, tool calls with a preview of their results."""
    out = header_lines(info)
    for message in messages:
        texts = [b.text for b in message.content if isinstance(b, TextBlock) and b.text]
        if message.role == "user":
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    mark = "error" if block.is_error else "ok"
                    out.append(f"  <- {mark}: {_preview(block.content)}")
            if texts:
                out += ["", "[user]", *texts]
            continue
        out += ["", "[assistant]"]
        for block in message.content:
            if isinstance(block, ThinkingBlock):
                out.append("(thinking, redacted)" if block.redacted else f"(thinking) {one_line(block.thinking, PREVIEW_CHARS)}")
            elif isinstance(block, TextBlock) and block.text:
                out.append(block.text)
            elif isinstance(block, ToolUseBlock):
                out.append(f"  -> {block.name} {one_line(json.dumps(block.input, ensure_ascii=False), PREVIEW_CHARS)}")
    return "\n".join(out) + "\n"


def _fence(text: str, lang: str = "") -> str:
    """A code fence longer than any run of backticks inside, so content cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def render_markdown(info: SessionInfo, messages: list[Message]) -> str:
    out = [f"# ketch session {info.session_id}", "",
           f"- Folder: `{info.cwd or '-'}`", f"- Model: {info.model or '-'}",
           f"- Started: {when(info.created)}", f"- Last activity: {when(info.updated)}", f"- Turns: {info.turns}"]
    if info.forked_from:
        out.append(f"- Forked from: {info.forked_from}")
    for message in messages:
        parts: list[str] = []
        for block in message.content:
            if isinstance(block, TextBlock) and block.text:
                parts.append(block.text)
            elif isinstance(block, ThinkingBlock) and not block.redacted and block.thinking:
                parts.append("*Thinking:*\n\n" + "\n".join("> " + line for line in block.thinking.splitlines()))
            elif isinstance(block, ToolUseBlock):
                parts.append(f"**Tool call** `{block.name}`\n\n"
                             + _fence(json.dumps(block.input, ensure_ascii=False, indent=2), "json"))
            elif isinstance(block, ToolResultBlock):
                parts.append(f"**Tool result**{' (error)' if block.is_error else ''}\n\n" + _fence(block.content))
        if parts:
            title = "Assistant" if message.role == "assistant" else (
                "User" if any(isinstance(b, TextBlock) for b in message.content) else "Tool results")
            out += ["", f"## {title}", "", "\n\n".join(parts)]
    return "\n".join(out) + "\n"


def render_json(info: SessionInfo, messages: list[Message]) -> str:
    data: dict[str, Any] = {
        "session_id": info.session_id, "cwd": info.cwd, "model": info.model,
        "created": iso(info.created), "updated": iso(info.updated), "turns": info.turns,
        "forked_from": info.forked_from or None,
        "messages": [{"role": m.role, "content": [block_to_dict(b) for b in m.content]} for m in messages],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

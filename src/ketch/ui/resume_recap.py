"""What a resumed session shows first: its last few exchanges, compactly (as Claude Code does).

Each exchange is the person's prompt, each tool call of the turns that followed as one line,
and the start of the last answer; long text is folded to a few lines. Everything goes through
the renderer's own lines, so text from the transcript is escaped like any model text.
"""

from __future__ import annotations

from typing import Any

from ketch.agent import events as ev
from ketch.agent.undo.rewind_points import COMPACTED_MARK, is_prompt
from ketch.conversation import Message, TextBlock, ToolUseBlock

EXCHANGES = 3
PROMPT_LINES = 2
ANSWER_LINES = 4
LINE_CHARS = 200


def exchanges(messages: list[Message], count: int = EXCHANGES) -> list[list[Message]]:
    """The last `count` exchanges: each starts with a prompt and runs to the next one."""
    starts = [i for i, m in enumerate(messages) if is_prompt(m)]
    bounds = list(zip(starts, [*starts[1:], len(messages)]))
    return [messages[a:b] for a, b in bounds[-count:]]


def _folded(text: str, keep: int) -> tuple[list[str], int]:
    lines = [line[:LINE_CHARS] + ("…" if len(line) > LINE_CHARS else "") for line in text.strip().splitlines()]
    return lines[:keep], max(0, len(lines) - keep)


def show_recap(r: Any, session_id: str, messages: list[Message]) -> None:
    """Print the resumed session's last exchanges through the REPL's renderer `r`."""
    shown = exchanges(messages)
    before = sum(1 for m in messages if is_prompt(m)) - len(shown)
    compacted = bool(messages) and messages[0].role == "user" and any(
        isinstance(b, TextBlock) and b.text.startswith(COMPACTED_MARK) for b in messages[0].content)
    r.info(f"resumed session {session_id} ({len(messages)} messages)")
    if before > 0 or compacted:
        earlier = f"{before} earlier exchange{'s' if before != 1 else ''}" if before > 0 else "earlier turns"
        r.info(f"  … {earlier}{' (compacted)' if compacted else ''} not shown "
               f"(`ketch sessions show {session_id[:8]}` has them all)")
    for exchange in shown:
        prompt = "".join(b.text for b in exchange[0].content if isinstance(b, TextBlock))
        lines, more = _folded(prompt, PROMPT_LINES)
        for i, text in enumerate(lines or [""]):
            r.line(("> " if i == 0 else "  ") + text, "bold")
        if more:
            r.info(f"  … {more} more line{'s' if more != 1 else ''}")
        answer = ""
        for message in exchange[1:]:
            if message.role != "assistant":
                continue
            for block in message.content:
                if isinstance(block, ToolUseBlock):
                    r.tool_line(ev.ToolCall(block.id, block.name, block.input))
            answer = message.text() or answer
        lines, more = _folded(answer, ANSWER_LINES)
        for text in lines:
            r.line(text)
        if more:
            r.info(f"  … {more} more line{'s' if more != 1 else ''}")
    if shown:
        r.info("─── resumed here ───" if r.fancy else "--- resumed here ---")

"""Turn whatever messages a transcript still holds into a conversation both APIs accept.

Both dialects require that every tool call is answered by a result in the very next user
turn, that no result answers a call that is not there, and Anthropic that the
conversation starts with the user. A crash during a tool call leaves a call without its
result; a damaged line can drop any message. This module restores those rules with the
least invention: interrupted calls get an error result saying so, orphan results are
dropped, adjacent messages of one role are joined, a lost beginning is marked.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketch.conversation import Block, Message, TextBlock, ToolResultBlock

INTERRUPTED = "interrupted: ketch stopped before this call finished"
LOST_START = "[ketch: the beginning of this session could not be read]"


@dataclass
class Repairs:
    """What `repair` had to change; empty means the conversation was already valid."""

    interrupted_calls: int = 0
    orphan_results: int = 0
    lost_start: bool = False

    def __bool__(self) -> bool:
        return bool(self.interrupted_calls or self.orphan_results or self.lost_start)


def _interrupted(ids: list[str]) -> list[Block]:
    return [ToolResultBlock(i, INTERRUPTED, is_error=True) for i in ids]


def repair(messages: list[Message]) -> tuple[list[Message], Repairs]:
    """A valid conversation built from `messages` (which are not modified), and what changed."""
    out: list[Message] = []
    fixes = Repairs()
    waiting: list[str] = []  # calls of the last assistant message still without a result

    for message in messages:
        if message.role == "assistant":
            if waiting:
                out.append(Message("user", _interrupted(waiting)))
                fixes.interrupted_calls += len(waiting)
            elif out and out[-1].role == "assistant":
                # Only text-only replies reach here (a reply with calls sets `waiting`).
                out[-1] = Message("assistant", out[-1].content + list(message.content))
                waiting = [b.id for b in message.tool_uses()]
                continue
            if not out:
                out.append(Message("user", [TextBlock(LOST_START)]))
                fixes.lost_start = True
            out.append(Message("assistant", list(message.content)))
            waiting = [b.id for b in message.tool_uses()]
            continue

        results = [b for b in message.content if isinstance(b, ToolResultBlock)]
        others = [b for b in message.content if not isinstance(b, ToolResultBlock)]
        answered: list[Block] = []
        for block in results:
            if block.tool_use_id in waiting:
                waiting.remove(block.tool_use_id)
                answered.append(block)
            else:
                fixes.orphan_results += 1
        if answered or waiting:
            fixes.interrupted_calls += len(waiting)
            answered += _interrupted(waiting)
            waiting = []
        content = answered + others  # results first, as Anthropic requires
        if not content:
            continue
        if out and out[-1].role == "user":
            out[-1] = Message("user", out[-1].content + content)
        else:
            out.append(Message("user", content))

    if waiting:
        out.append(Message("user", _interrupted(waiting)))
        fixes.interrupted_calls += len(waiting)
    return out, fixes

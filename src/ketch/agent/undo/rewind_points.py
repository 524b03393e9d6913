"""Where /rewind can go back to: before any prompt the person gave in this conversation.

Every user prompt still in the message list is a point, whether or not the turns after it
changed files; the checkpoints of those turns (matched by the index of the assistant
message that made the calls) say what a rewind of the files would restore. Checkpoints of
an abandoned branch (a conversation-only rewind kept their files) or from before a
compaction no longer line up with the messages: walking back from the newest, a checkpoint
whose message index is not below the one after it is not part of this conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ketch.conversation import Message, TextBlock, ToolResultBlock

COMPACTED_MARK = "<compacted-context>"


@dataclass
class RewindPoint:
    number: int  # as listed, from 1
    message_index: int  # the prompt's message: the conversation before it is what stays
    prompt: str
    checkpoints: list[Any] = field(default_factory=list)  # live CheckpointRecords of this turn


def is_prompt(message: Message) -> bool:
    """A message the person wrote (not tool results, not the compaction summary)."""
    if message.role != "user" or any(isinstance(b, ToolResultBlock) for b in message.content):
        return False
    texts = [b.text for b in message.content if isinstance(b, TextBlock)]
    return bool(texts) and not texts[0].startswith(COMPACTED_MARK)


def current_checkpoints(records: list[Any]) -> list[Any]:
    """Live checkpoints of the conversation as it is now, oldest first."""
    kept: list[Any] = []
    below: int | None = None
    for record in sorted((r for r in records if not r.undone), key=lambda r: r.seq, reverse=True):
        if below is not None and record.message_index >= below:
            continue
        kept.append(record)
        below = record.message_index
    return kept[::-1]


def rewind_points(messages: list[Message], records: list[Any]) -> list[RewindPoint]:
    """Each prompt in `messages`, oldest first, with the checkpoints of the turn it started."""
    starts = [i for i, m in enumerate(messages) if is_prompt(m)]
    live = current_checkpoints(records)
    points = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(messages)
        text = "".join(b.text for b in messages[start].content if isinstance(b, TextBlock))
        points.append(RewindPoint(n + 1, start, text,
                                  [r for r in live if start < r.message_index < end]))
    return points


def files_to_undo(points: list[RewindPoint], chosen: RewindPoint) -> list[Any]:
    """The checkpoints a rewind to before `chosen` takes off: its turn's and every later one's."""
    return [c for p in points if p.number >= chosen.number for c in p.checkpoints]

"""Rebuild a session's conversation (`Agent.messages`) from its transcript.

Loading is read-only and never raises for what is inside the file: unreadable lines,
unknown record types and unusable blocks are skipped and counted, the conversation is
repaired (`session_repair`), and `Loaded.warning()` sums it all up in one line for the
front end to show. Only a file that cannot be opened at all raises (OSError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketch.agent.sessions.index import SessionInfo
from ketch.agent.sessions.records import read_lines
from ketch.agent.sessions.repair import Repairs, repair
from ketch.conversation import Block, Message, ToolResultBlock, block_from_dict, block_to_dict

# Record types this version writes (`transcript.to_record`); the conversation is rebuilt from
# "user" and "assistant", and "compaction" (the history that replaced everything before it).
KNOWN_TYPES = frozenset({"session", "user", "assistant", "compaction", "rewind", "permission", "notice", "checkpoint",
                         "error", "retry", "result"})


@dataclass
class Problems:
    """Everything in a transcript that could not be used, for one warning line."""

    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)
    unknown_types: dict[str, int] = field(default_factory=dict)
    bad_blocks: int = 0

    def __bool__(self) -> bool:
        return bool(self.bad_lines or self.unknown_types or self.bad_blocks)


@dataclass
class Loaded:
    session_id: str
    messages: list[Message]
    info: SessionInfo
    problems: Problems
    repairs: Repairs
    tail_repair: list[Message] = field(default_factory=list)  # added after the last message read

    def warning(self) -> str | None:
        """One line saying what was skipped or mended, or None for a clean transcript."""
        parts: list[str] = []
        bad = self.problems.bad_lines
        if bad:
            number, why = bad[0]
            if len(bad) == 1:
                parts.append(f"skipped line {number} ({why})")
            else:
                parts.append(f"skipped {len(bad)} unreadable lines (the first, line {number}, {why})")
        for kind, count in sorted(self.problems.unknown_types.items()):
            parts.append(f"skipped {count} record{'s' if count > 1 else ''} of unknown type {kind!r}")
        if self.problems.bad_blocks:
            parts.append(f"skipped {self.problems.bad_blocks} unusable content block(s)")
        if self.repairs.interrupted_calls:
            n = self.repairs.interrupted_calls
            parts.append(f"{n} tool call{'s' if n > 1 else ''} cut short by a stop "
                         f"{'were' if n > 1 else 'was'} marked interrupted")
        if self.repairs.orphan_results:
            parts.append(f"dropped {self.repairs.orphan_results} tool result(s) whose call was lost")
        if self.repairs.lost_start:
            parts.append("the beginning of the conversation is missing")
        if not parts:
            return None
        return f"session {self.session_id}: " + "; ".join(parts) + "; continuing with what is readable"


def _blocks(content: Any, problems: Problems) -> list[Block]:
    if not isinstance(content, list):
        problems.bad_blocks += 1
        return []
    blocks: list[Block] = []
    for item in content:
        try:
            if not isinstance(item, dict):
                raise TypeError("not an object")
            blocks.append(block_from_dict(item))
        except (ValueError, KeyError, TypeError):
            problems.bad_blocks += 1
    return blocks


def _compacted(record: dict[str, Any], problems: Problems) -> list[Message] | None:
    """The history a compaction record holds, or None (counted as a problem) if it is unusable."""
    items = record.get("messages")
    if not isinstance(items, list):
        problems.bad_blocks += 1
        return None
    messages = []
    for item in items:
        role = item.get("role") if isinstance(item, dict) else None
        if role not in ("user", "assistant"):
            problems.bad_blocks += 1
            continue
        blocks = _blocks(item.get("content"), problems)
        if blocks:
            messages.append(Message(role, blocks))
    return messages


def load_session(path: Path, follow_compaction: bool = True) -> Loaded:
    """Read the transcript at `path` into a valid conversation; raises only OSError.

    With `follow_compaction` (resuming), a compaction record replaces the history before it,
    as it did in the run that wrote it; without (showing, exporting), every message is kept.
    """
    info = SessionInfo(session_id=path.stem)
    problems = Problems()
    raw: list[Message] = []
    for line in read_lines(path):
        if line.record is None:
            problems.bad_lines.append((line.number, line.problem or "unreadable"))
            continue
        record = line.record
        kind = record["type"]
        if kind not in KNOWN_TYPES:
            problems.unknown_types[kind] = problems.unknown_types.get(kind, 0) + 1
            continue
        info.fold(record)
        if line.complete:
            info.indexed_bytes = line.end
        if record.get("isSidechain"):  # a subagent's messages: kept for reading, not the conversation
            continue
        if kind in ("user", "assistant"):
            blocks = _blocks(record.get("content"), problems)
            if blocks:
                raw.append(Message(kind, blocks))
        elif kind in ("compaction", "rewind") and follow_compaction:  # both replace the history
            history = _compacted(record, problems)
            if history is not None:
                raw = history
    messages, repairs = repair(raw)
    tail: list[Message] = []
    # Results invented for the calls of the last reply read: worth writing down on resume,
    # so the transcript shows what the model was told and later loads need no repair.
    if (repairs.interrupted_calls and messages and messages[-1].role == "user"
            and all(isinstance(b, ToolResultBlock) for b in messages[-1].content)
            and (not raw or raw[-1].role == "assistant")):
        tail = [messages[-1]]
    return Loaded(path.stem, messages, info, problems, repairs, tail)


def to_records(messages: list[Message], model: str = "") -> list[dict[str, Any]]:
    """Transcript records for `messages`: what a fork copies into its new transcript."""
    records: list[dict[str, Any]] = []
    for message in messages:
        record: dict[str, Any] = {"type": message.role, "content": [block_to_dict(b) for b in message.content]}
        if message.role == "assistant" and model:
            record["model"] = model
        records.append(record)
    return records

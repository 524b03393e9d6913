"""Case-insensitive search over the prompts and answers of stored sessions.

Search reads transcripts rather than an index: the text has to be looked at somewhere,
and a line is only parsed when its raw text already contains the query (in its JSON
form), so the cost is one sequential read at disk/page-cache speed (see bench/sessions.py
for a 1,000-turn session). Tool output and reasoning are not searched: they are mostly
file contents and would drown the conversation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ketch.agent.sessions.index import prompt_text
from ketch.agent.sessions.records import parse_line

SNIPPET_CONTEXT = 40


@dataclass
class Hit:
    role: str  # "user" or "assistant"
    snippet: str


def _assistant_text(record: dict) -> str:  # type: ignore[type-arg]
    content = record.get("content")
    if not isinstance(content, list):
        return ""
    return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")


def snippet(text: str, start: int, length: int) -> str:
    """The match with some context on each side, on one line."""
    lo, hi = max(0, start - SNIPPET_CONTEXT), min(len(text), start + length + SNIPPET_CONTEXT)
    piece = " ".join(text[lo:hi].split())
    return ("…" if lo else "") + piece + ("…" if hi < len(text) else "")


def search_transcript(path: Path, query: str) -> Iterator[Hit]:
    """Every prompt or answer of the transcript that contains `query`, ignoring case."""
    folded = query.casefold()
    encoded = json.dumps(query, ensure_ascii=False)[1:-1].casefold()
    with open(path, "rb") as f:
        for raw in f:
            if encoded not in raw.decode("utf-8", "replace").casefold():
                continue
            record, _ = parse_line(raw.strip())
            if record is None:
                continue
            text = prompt_text(record) if record["type"] == "user" else (
                _assistant_text(record) if record["type"] == "assistant" else None)
            if not text:
                continue
            where = text.casefold().find(folded)
            if where >= 0:
                yield Hit(record["type"], snippet(text, where, len(query)))

"""Read a session transcript line by line without ever trusting it.

A transcript is append-only JSONL written by `agent/sessions/transcript.py`. A `kill -9` can leave
its last line half-written, a disk or an editor can leave garbage anywhere, and a newer
ketch may write record types this one does not know. Every reader (resume, the session
index, search) goes through `read_lines`, which reports each bad line as a problem instead
of raising, so one bad line never costs the rest of the session. Reading never writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Line:
    """One line of a transcript: a record, or the reason it could not be read."""

    number: int  # 1-based, counted from the offset the read started at
    end: int  # byte offset just past this line (past its newline when it has one)
    record: dict[str, Any] | None
    problem: str | None = None
    complete: bool = True  # False only for a last line without its newline


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(record, None) or (None, why): strict UTF-8, one JSON object with a string "type"."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    try:
        value = json.loads(text)
    except ValueError:
        return None, "not valid JSON"
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return None, "not a transcript record"
    return value, None


def read_lines(path: Path, start: int = 0) -> Iterator[Line]:
    """Every non-blank line from byte offset `start` (a line boundary) to the end of the file.

    The file is read as it is at the moment: a writer appending meanwhile can only add
    lines after the ones already seen, and a last line still being written is reported as
    incomplete rather than guessed at.
    """
    offset = start
    number = 0
    with open(path, "rb") as f:
        if start:
            f.seek(start)
        for raw in f:
            offset += len(raw)
            number += 1
            complete = raw.endswith(b"\n")
            body = raw.strip()
            if not body:
                continue
            record, problem = parse_line(body)
            if problem and not complete:
                problem = "incomplete (ketch stopped while writing it)"
            yield Line(number, offset, record, problem, complete)

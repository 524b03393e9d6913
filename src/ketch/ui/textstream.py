"""Streamed model text, written as it arrives and never re-rendered.

Prose goes to the terminal delta by delta; when a line ends the sink is told, so it can
draw that one line again with its markdown styled (`Renderer.prose_line_end`). Only a
line that may open a code fence, a heading or a table is held until it is complete; a
fenced code block or a table is held until it ends and is then printed once. So a
2,000-line answer costs the same per line at the end as at the start (issue 4's budget),
and what scrolled away is never redrawn.
"""

from __future__ import annotations

import re
from typing import Protocol

from ketch.terminal_text import printable as clean  # the one escaping function, shared by every front end
from ketch.ui.markdown_line import is_table_line

_HEADING = re.compile(r"#{1,6}\s")


class TextSink(Protocol):
    def prose(self, text: str) -> None: ...  # part of a prose line, never containing "\n"
    def prose_line_end(self, line: str) -> None: ...  # the whole line whose parts were just written
    def code(self, code: str, language: str) -> None: ...
    def heading(self, text: str) -> None: ...
    def table(self, lines: list[str]) -> None: ...


class TextStream:
    """A small markdown-aware line machine over a `TextSink`."""

    def __init__(self, sink: TextSink) -> None:
        self._sink = sink
        self._pending = ""
        self._line = ""  # the prose already handed to the sink on the current line
        self._fence: str | None = None  # the language of the open code block ("" if unnamed)
        self._code_lines: list[str] = []
        self._table: list[str] = []

    @property
    def mid_line(self) -> bool:
        """Part of a prose line is on screen: nothing else may be written on its row."""
        return bool(self._line)

    def feed(self, text: str) -> None:
        self._pending += clean(text)
        while self._pending and self._step():
            pass

    def _take_line(self) -> str | None:
        newline = self._pending.find("\n")
        if newline < 0:
            return None
        line, self._pending = self._pending[:newline], self._pending[newline + 1:]
        return line

    def _step(self) -> bool:
        """Consume what can be decided now; False when the rest must wait for more text."""
        if self._fence is not None:
            line = self._take_line()
            if line is None:
                return False
            if line.strip().startswith("```"):
                self._sink.code("\n".join(self._code_lines), self._fence)
                self._fence, self._code_lines = None, []
            else:
                self._code_lines.append(line)
            return True
        if not self._line and self._held_kind() is not None:
            line = self._take_line()
            if line is None:
                return False
            self._whole_line(line)
            return True
        if self._table:
            self._flush_table()
        newline = self._pending.find("\n")
        part = self._pending if newline < 0 else self._pending[:newline]
        if part:
            self._sink.prose(part)
            self._line += part
        if newline < 0:
            self._pending = ""
            return False
        self._pending = self._pending[newline + 1:]
        self._end_prose_line()
        return True

    def _held_kind(self) -> str | None:
        """At a line start: could this line be special? (decided once it is whole)."""
        head = self._pending.lstrip(" ")
        if "\n" not in self._pending and head == "":
            return "undecided"
        if head.startswith(("#", "```")) or "```".startswith(head[:3]):
            return "special"
        return "table" if is_table_line(head) else None

    def _whole_line(self, line: str) -> None:
        stripped = line.strip()
        if stripped.startswith("|"):
            self._table.append(line)
            return
        if self._table:
            self._flush_table()
        if stripped.startswith("```"):
            self._fence = stripped[3:].strip()
        elif _HEADING.match(stripped):
            self._sink.heading(stripped.lstrip("#").strip())
        else:
            if line:
                self._sink.prose(line)
            self._line = line
            self._end_prose_line()

    def _end_prose_line(self) -> None:
        self._sink.prose_line_end(self._line)
        self._line = ""

    def _flush_table(self) -> None:
        self._sink.table(self._table)
        self._table = []

    def finish(self) -> None:
        """End of the reply (or an interruption): flush whatever is held, end the line."""
        if self._fence is not None:
            if self._pending:
                self._code_lines.append(self._pending)
            self._sink.code("\n".join(self._code_lines), self._fence)
            self._fence, self._code_lines, self._pending = None, [], ""
        if self._pending:
            rest, self._pending = self._pending, ""
            if self._line:
                self._sink.prose(rest)
                self._line += rest
                self._end_prose_line()
            else:
                self._whole_line(rest)
        if self._table:
            self._flush_table()
        if self._line:
            self._end_prose_line()

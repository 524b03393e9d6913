"""Streamed model text, written as it arrives and never re-rendered.

Prose goes straight to the terminal, delta by delta. Only a line that may open a code fence
or a heading is held until it is complete; a fenced code block is held until it closes and
is then printed once, highlighted. So a 2,000-line answer costs the same per line at the
end as at the start (issue 4's budget), and what scrolled away is never redrawn.
"""

from __future__ import annotations

import re
from typing import Callable

_HEADING = re.compile(r"#{1,6}\s")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Model and tool text with terminal control characters made visible (no escape injection)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r\n", "\n"))


class TextStream:
    """A tiny markdown-aware line machine: raw prose, styled headings, highlighted code blocks."""

    def __init__(self, write: Callable[[str], None], code: Callable[[str, str], None],
                 heading: Callable[[str], None]) -> None:
        self._write = write
        self._code = code
        self._heading = heading
        self._pending = ""
        self._at_line_start = True
        self._fence: str | None = None  # the language of the open code block ("" if unnamed)
        self._code_lines: list[str] = []
        self.wrote_any = False

    def feed(self, text: str) -> None:
        self._pending += clean(text)
        while self._pending and self._step():
            pass

    def _step(self) -> bool:
        """Consume what can be decided now; False when the rest must wait for more text."""
        newline = self._pending.find("\n")
        if self._fence is not None:
            if newline < 0:
                return False
            line, self._pending = self._pending[:newline], self._pending[newline + 1:]
            if line.strip().startswith("```"):
                self._code("\n".join(self._code_lines), self._fence)
                self._fence, self._code_lines = None, []
            else:
                self._code_lines.append(line)
            return True
        if self._at_line_start:
            head = self._pending.lstrip(" ")
            maybe_special = head == "" or head.startswith("#") or "```".startswith(head[:3]) or head.startswith("```")
            if maybe_special:
                if newline < 0:
                    return False
                line, self._pending = self._pending[:newline], self._pending[newline + 1:]
                stripped = line.strip()
                if stripped.startswith("```"):
                    self._fence = stripped[3:].strip()
                elif _HEADING.match(stripped):
                    self._heading(stripped.lstrip("#").strip())
                else:
                    self._emit(line + "\n")
                return True
        if newline < 0:
            self._emit(self._pending)
            self._pending = ""
            return False
        self._emit(self._pending[:newline + 1])
        self._pending = self._pending[newline + 1:]
        return True

    def _emit(self, text: str) -> None:
        self._write(text)
        self.wrote_any = True
        self._at_line_start = text.endswith("\n")

    def finish(self) -> None:
        """End of the reply (or an interruption): flush whatever is held, end the line."""
        if self._fence is not None:
            if self._pending:
                self._code_lines.append(self._pending)
            self._code("\n".join(self._code_lines), self._fence)
            self._fence, self._code_lines, self._pending = None, [], ""
        if self._pending:
            head = self._pending.strip()
            if _HEADING.match(head):
                self._heading(head.lstrip("#").strip())
            else:
                self._emit(self._pending)
            self._pending = ""
        if not self._at_line_start:
            self._emit("\n")

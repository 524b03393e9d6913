"""The terminal during a turn: which keys interrupt, and when to fall back to line I/O.

While the agent works, the terminal is switched to no-echo, non-canonical, no-signal mode so
Esc and Ctrl-C arrive as bytes on stdin; the REPL waits on them and on the worker's wake-up
pipe with one select() (no polling: an idle or busy turn costs no CPU to watch).
"""

from __future__ import annotations

import os
import select
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations only, never imported at run time

ESC_SEQUENCE_WAIT_S = 0.05  # an arrow key is ESC + more bytes within this; a lone ESC is Esc


def is_fancy() -> bool:
    """A real terminal on both ends: prompt_toolkit input and styled output; else plain lines."""
    try:
        ttys = sys.stdin.isatty() and sys.stdout.isatty()
    except (ValueError, AttributeError):
        return False
    return ttys and os.environ.get("TERM", "") not in ("", "dumb", "unknown")


class KeyWatcher:
    """Raw-ish mode for the length of a turn; `keys()` turns pending input into key names."""

    def __init__(self, fd: int) -> None:
        import codecs

        self.fd = fd
        self._saved: list | None = None  # type: ignore[type-arg]
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="ignore")  # a character may span reads

    def __enter__(self) -> Self:
        try:
            self._saved = termios.tcgetattr(self.fd)
        except termios.error:
            self._saved = None
            return self
        raw = termios.tcgetattr(self.fd)
        raw[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
        raw[6][termios.VMIN] = 1
        raw[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, raw)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    @contextmanager
    def cooked(self) -> Iterator[None]:
        """The user's normal terminal back, for a question that needs line editing."""
        if self._saved is None:
            yield
            return
        current = termios.tcgetattr(self.fd)
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        try:
            yield
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, current)

    def keys(self) -> list[str]:
        """Read what is pending: 'esc', 'ctrl-c', 'ctrl-d', 'enter', or the characters typed."""
        try:
            data = os.read(self.fd, 256)
        except OSError:
            return []
        if data == b"\x1b":
            ready, _, _ = select.select([self.fd], [], [], ESC_SEQUENCE_WAIT_S)
            if ready:
                os.read(self.fd, 256)  # the rest of an escape sequence (arrow, function key): ignored
                return []
            return ["esc"]
        if data.startswith(b"\x1b"):
            return []
        names = {"\x03": "ctrl-c", "\x04": "ctrl-d", "\r": "enter", "\n": "enter", "\x7f": "backspace",
                 "\x08": "backspace"}
        return [names.get(ch, ch) for ch in self._utf8.decode(data)]

    def read_key(self) -> str:
        """Block for one key (permission questions)."""
        while True:
            keys = self.keys()
            if keys:
                return keys[0]

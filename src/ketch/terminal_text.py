"""Text from a model, a server, a file or a setting, made safe to show on a terminal (DESIGN.md §4).

One function for every front end (the REPL, the headless printers, stderr lines): C0 and C1
control characters (ESC, CSI `\\x9b`, OSC `\\x9d`, BEL, backspace, carriage return...) and
bidirectional overrides are shown as visible escapes, so nothing that came from outside can
set the clipboard (OSC 52), retitle the window, move the cursor, erase lines or reorder
what the person reads. Newline and tab stay as they are.
"""

from __future__ import annotations

import re
from functools import cache
from typing import IO


@cache
def _unsafe() -> re.Pattern[str]:
    """C0 but \\t and \\n, DEL, C1; the bidi embeddings, overrides and isolates (Trojan Source); lone
    surrogates (JSON may spell `\\ud800`; no encoder can write one, so it would crash the writer).

    Compiled at first use, as every pattern here: a run that prints nothing to a terminal never
    needs it (start-up, DESIGN.md §6)."""
    return re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@cache
def _json_raw() -> re.Pattern[str]:
    """What JSON may still carry raw after json.dumps (which escapes only \\x00-\\x1f): DEL, C1, bidi,
    the line separators some JSON readers (and terminals) treat as line breaks, and lone surrogates."""
    return re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with terminal control characters made visible (`\\x1b`, `\\u202e`); CRLF becomes LF."""
    return _unsafe().sub(_visible, text.replace("\r\n", "\n"))


def json_safe(encoded: str) -> str:
    """A JSON document with the control characters json.dumps leaves raw escaped as `\\uXXXX` (same value)."""
    return _json_raw().sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class PrintableStream:
    """A text stream that passes every write through `printable()`: stderr, and headless stdout.

    Wrapping the stream, not each message, covers every line ketch writes there, including
    ones added later (a provider's error body, a setting quoted in a warning).
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._stream, name)

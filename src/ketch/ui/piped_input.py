"""Piped stdin as part of a headless prompt: read up to a limit, and say what it will cost.

`cat big.log | ketch -p "why did it fail?"` sends the whole log to the model. A file of a
few megabytes is more than any context window holds and costs real money per run, so input
above `KETCH_MAX_STDIN_BYTES` (1 MB by default) is refused in one line that says how to
raise the limit, and input worth mentioning is announced on stderr with its size and an
estimate of its tokens and price, before anything is sent.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable

from ketch.errors import PipedInputError

DEFAULT_LIMIT = 1_000_000
LIMIT_ENV = "KETCH_MAX_STDIN_BYTES"
MENTION_BYTES = 10_000  # smaller input is not worth a line on stderr
CHARS_PER_TOKEN = 4


def size_text(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} kB"
    return f"{n / 1_000_000:.1f} MB"


def limit() -> int:
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise PipedInputError(f"{LIMIT_ENV}={raw!r} is not a number of bytes (e.g. {LIMIT_ENV}=5000000)") from None
    if value < 1:
        raise PipedInputError(f"{LIMIT_ENV} must be at least 1 byte")
    return value


def read_piped() -> tuple[str, int] | None:
    """Piped stdin (a pipe or a redirected file, never a terminal) and its size in bytes, or None.

    Reads at most one byte past the limit, so a huge input is refused without being read whole.
    """
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        return None
    cap = limit()
    data = sys.stdin.buffer.read(cap + 1)
    if len(data) > cap:
        total = os.fstat(sys.stdin.fileno()).st_size if stat.S_ISREG(mode) else 0
        size = size_text(total) if total else f"more than {size_text(cap)}"
        enough = max(cap * 4, (total // 1_000_000 + 1) * 1_000_000)
        raise PipedInputError(
            f"piped stdin is {size}, over the {size_text(cap)} limit (~{cap // CHARS_PER_TOKEN // 1000}k tokens); "
            f"send less (e.g. `tail -c 200000 file | ketch -p ...`) or raise the limit: {LIMIT_ENV}={enough}")
    text = data.decode("utf-8", errors="replace")
    return (text, len(data)) if text.strip() else None


def announce(size: int, price: Callable[[int], float], model: str, write: Callable[[str], None]) -> None:
    """One stderr line for input worth mentioning: its size, estimated tokens and input price."""
    if size < MENTION_BYTES:
        return
    tokens = size // CHARS_PER_TOKEN
    cost = price(tokens)
    priced = f", about ${cost:.2f} of input for {model} each time it is sent" if cost > 0 else ""
    write(f"ketch: piped stdin: {size_text(size)} (~{tokens / 1000:.0f}k tokens{priced})\n")

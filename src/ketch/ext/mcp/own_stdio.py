"""Transport over ketch's own stdin and stdout, for `ketch mcp serve`: the client is ketch's parent.

stdout carries protocol messages and nothing else: `take_process_streams` keeps a private
copy of file descriptor 1 for them and points descriptor 1 at stderr, so a stray print, a
library's warning or a process that inherits the descriptor can only reach the log. A line
that is not JSON is answered with a parse error (-32700, id null) and the connection goes
on; a line longer than the cap ends it, as for a server ketch runs (stdio.py).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from typing import IO

from ketch.errors import McpError
from ketch.ext.mcp.stdio import MAX_MESSAGE_BYTES
from ketch.ext.mcp.transport import Message

PARSE_ERROR = -32700


class OwnStdio:
    """Transport over two byte streams: JSON-RPC messages in from `stdin`, out to `stdout`, one a line."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes], *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._in = stdin
        self._out = stdout
        self._max = max_message_bytes
        self._write_lock = threading.Lock()
        self._closing = False

    @classmethod
    def take_process_streams(cls) -> OwnStdio:
        """ketch's stdin and stdout, with descriptor 1 handed to stderr from now on."""
        sys.stdout.flush()
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)  # sys.stdout still writes to descriptor 1: now the log
        return cls(sys.stdin.buffer, out)

    def open(self, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        threading.Thread(target=self._read, args=(deliver, closed), daemon=True, name="mcp-serve-stdin").start()

    def send(self, message: Message) -> None:
        if self._closing:
            raise McpError("the connection is closed")
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        try:
            with self._write_lock:
                self._out.write(data)
                self._out.flush()
        except (OSError, ValueError):
            raise McpError("the client stopped reading ketch's output") from None

    def close(self) -> None:
        self._closing = True  # the reader is a daemon blocked on stdin: it ends with the process

    def _read(self, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        reason = "the client closed ketch's input"
        try:
            while not self._closing:
                line = self._in.readline(self._max + 1)
                if not line:
                    break
                if len(line) > self._max and not line.endswith(b"\n"):
                    reason = f"the client sent a message over {self._max >> 20} MiB"
                    break
                if not line.strip():
                    continue
                try:
                    message = json.loads(line)
                except ValueError as exc:
                    self._refuse(f"Parse error: {exc}")
                    continue
                deliver(message)
        except (OSError, ValueError):
            reason = "ketch's input could not be read"
        if not self._closing:
            closed(reason)

    def _refuse(self, text: str) -> None:
        try:
            self.send({"jsonrpc": "2.0", "id": None, "error": {"code": PARSE_ERROR, "message": text[:200]}})
        except McpError:
            pass

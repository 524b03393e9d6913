"""A server started as a process, speaking newline-delimited JSON-RPC on its stdin and stdout.

The process comes from a `start` function the wiring chooses: in the OS sandbox by default
(security.sandbox Sandbox.spawn), or plainly when the person wrote `"sandbox": false`. Its
stderr is kept (the last few KB) to say why it failed; its stdout is read a line at a time
with a cap, so a server cannot make ketch hold an unbounded line.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Protocol

from ketch.errors import McpError
from ketch.ext.mcp.transport import Message

MAX_MESSAGE_BYTES = 32 << 20
_STDERR_KEEP = 4096


class ServerProcess(Protocol):
    """What a started server is to ketch (security.sandbox.served.Served is one)."""

    @property
    def stdin(self) -> IO[bytes]: ...

    @property
    def stdout(self) -> IO[bytes]: ...

    @property
    def stderr(self) -> IO[bytes]: ...

    def poll(self) -> int | None: ...

    def close(self) -> list[str]: ...


class StdioTransport:
    """Transport over a process's pipes; `start()` is called by `open`, in the caller's thread."""

    def __init__(self, start: Callable[[], ServerProcess], *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._start = start
        self._max = max_message_bytes
        self._proc: ServerProcess | None = None
        self._write_lock = threading.Lock()
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        self._closing = False
        self._stderr_reader: threading.Thread | None = None
        self.notes: list[str] = []  # what the sandbox's end-of-call checks said when it closed

    def open(self, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        self._proc = self._start()
        self._stderr_reader = threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,), daemon=True,
                                               name="mcp-stderr")
        self._stderr_reader.start()
        threading.Thread(target=self._read, args=(self._proc, deliver, closed), daemon=True,
                         name="mcp-stdout").start()

    def send(self, message: Message) -> None:
        proc = self._proc
        if proc is None or self._closing:
            raise McpError("the server is not running")
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        try:
            with self._write_lock:
                proc.stdin.write(data)
                proc.stdin.flush()
        except (OSError, ValueError):
            raise McpError(self._why_gone("stopped reading its input")) from None

    def close(self) -> None:
        self._closing = True
        proc, self._proc = self._proc, None
        if proc is not None:
            self.notes += proc.close()

    def stderr_tail(self) -> str:
        return b"".join(self._stderr).decode("utf-8", errors="replace").strip()

    # -- threads ---------------------------------------------------------------------------

    def _read(self, proc: ServerProcess, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        stream = proc.stdout
        reason = "the server closed its output"
        try:
            while True:
                line = stream.readline(self._max + 1)
                if not line:
                    break
                if len(line) > self._max and not line.endswith(b"\n"):
                    reason = f"the server sent a message over {self._max >> 20} MiB; ketch stopped it"
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError):  # RecursionError: nested too deep for the parser
                    message = line[:200].decode("utf-8", errors="replace")  # dropped, remembered for the notice
                deliver(message)
        except (OSError, ValueError):
            pass
        if not self._closing:
            if self._stderr_reader is not None:
                self._stderr_reader.join(timeout=1.0)  # its last words say why it stopped
            deadline = time.monotonic() + 1.0
            while proc.poll() is None and time.monotonic() < deadline:  # and its exit status
                time.sleep(0.02)
            closed(self._why_gone(reason))
            self.close()

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        try:
            for chunk in iter(lambda: stream.read1(4096), b""):  # type: ignore[attr-defined]
                self._stderr.append(chunk)
                self._stderr_size += len(chunk)
                while self._stderr_size - len(self._stderr[0]) > _STDERR_KEEP:
                    self._stderr_size -= len(self._stderr.popleft())
        except (OSError, ValueError):
            pass

    def _why_gone(self, what: str) -> str:
        proc = self._proc
        code = proc.poll() if proc is not None else None
        status = f" (exit status {code})" if code is not None else ""
        tail = self.stderr_tail().splitlines()
        said = f": {tail[-1][:300]}" if tail else ""
        return f"{what}{status}{said}"

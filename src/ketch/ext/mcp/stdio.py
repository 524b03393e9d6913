"""A server started as a process, speaking newline-delimited JSON-RPC on its stdin and stdout.

The process comes from a `start` function the wiring chooses: in the OS sandbox by default
(security.sandbox Sandbox.spawn), or plainly when the person wrote `"sandbox": false`. Its
stderr is kept (the last few KB) to say why it failed; its stdout is read a line at a time
with a cap, so a server cannot make ketch hold an unbounded line.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Any, Protocol

from ketch.errors import McpError
from ketch.ext.mcp.transport import Message

MAX_MESSAGE_BYTES = 32 << 20
# Objects and arrays one message may hold: 32 MiB of `[{},{},...]` would take gigabytes once parsed.
MAX_NODES = 200_000
_STDERR_KEEP = 4096
_QUEUE = 256  # messages waiting for a server that is slow to read its input
_SEND_WAIT_S = 5.0
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,15})')


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
        self._outbox: queue.Queue[bytes | None] = queue.Queue(_QUEUE)
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        self._closing = False
        self._stderr_reader: threading.Thread | None = None
        self.notes: list[str] = []  # what the sandbox's end-of-call checks said when it closed

    def open(self, deliver: Callable[[Any], None], closed: Callable[[str], None]) -> None:
        self._proc = self._start()
        self._stderr_reader = threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,), daemon=True,
                                               name="mcp-stderr")
        self._stderr_reader.start()
        threading.Thread(target=self._read, args=(self._proc, deliver, closed), daemon=True,
                         name="mcp-stdout").start()
        threading.Thread(target=self._write, args=(self._proc,), daemon=True, name="mcp-stdin").start()

    def send(self, message: Message) -> None:
        """Queue the message for the writer thread: a server that stops reading its input never
        blocks the caller (whose request then waits with its timeout and the person's Esc)."""
        if self._proc is None or self._closing:
            raise McpError("the server is not running")
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        try:
            self._outbox.put(data, timeout=_SEND_WAIT_S)
        except queue.Full:
            raise McpError(f"the server has not read its input for {_SEND_WAIT_S:g} s") from None

    def close(self) -> None:
        self._closing = True
        proc, self._proc = self._proc, None
        try:
            self._outbox.put_nowait(None)
        except queue.Full:
            pass  # the writer is stuck on a full pipe; closing the process ends it
        if proc is not None:
            self.notes += proc.close()

    def check(self) -> list[str]:
        """The sandbox's checks of what the server wrote so far (git folders it planted), or []."""
        check = getattr(self._proc, "check", None)
        return check() if callable(check) else []

    def stderr_tail(self) -> str:
        return b"".join(self._stderr).decode("utf-8", errors="replace").strip()

    # -- threads ---------------------------------------------------------------------------

    def _write(self, proc: ServerProcess) -> None:
        for data in iter(self._outbox.get, None):
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except (OSError, ValueError):
                return  # the reader sees the server go and says why

    def _read(self, proc: ServerProcess, deliver: Callable[[Any], None], closed: Callable[[str], None]) -> None:
        stream = proc.stdout
        reason = "the server closed its output"
        try:
            while True:
                line = stream.readline(self._max + 1)
                if not line:
                    break
                if len(line) > self._max and not line.endswith(b"\n"):
                    head = line[:200]
                    while line and not line.endswith(b"\n"):  # skip the rest, never holding it
                        line = stream.readline(1 << 20)
                    deliver(_refusal(head, b"", f"the answer was over {self._max >> 20} MiB; ketch dropped it"))
                    continue
                line = line.strip()
                if not line:
                    continue
                if line.count(b"{") + line.count(b"[") > MAX_NODES:
                    deliver(_refusal(line[:200], line[-200:], f"the answer held over {MAX_NODES} objects; ketch "
                                                              "dropped it"))
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


def _refusal(head: bytes, tail: bytes, why: str) -> Message | str:
    """An error answer to the request a dropped message answered (its id, read from either end),
    so that request fails now instead of waiting out its timeout; else a dropped message."""
    found = _ID.search(head) or _ID.search(tail)
    if found is None:
        return why
    return {"jsonrpc": "2.0", "id": int(found.group(1)), "error": {"code": -32603, "message": why}}

"""A raw JSON-lines MCP client for checking the fixture servers themselves (not ketch's client).

It speaks newline-delimited JSON-RPC to a subprocess with no SDK and no ketch code, so a broken
fixture fails its own test rather than a test of ketch's client. Every wait has a deadline.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; annotations only, never imported at run time

Message = dict[str, Any]
PROTOCOL_VERSION = "2025-06-18"
INITIALIZE_PARAMS = {
    "protocolVersion": PROTOCOL_VERSION,
    "capabilities": {"roots": {"listChanged": False}, "elicitation": {}},
    "clientInfo": {"name": "fixture-check", "version": "0"},
}
_EOF = object()


class WireClient:
    """One server process; `lines` gets every stdout line (parsed when it is JSON, else the bytes)."""

    def __init__(self, argv: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd, env=env)
        self.lines: queue.Queue[Any] = queue.Queue()
        self.stderr = b""
        self._stderr_grew = threading.Condition()
        self.seen: list[Any] = []  # notifications and server requests met while waiting for a response
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                self.lines.put(raw)
        self.lines.put(_EOF)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._stderr_grew:
                self.stderr += raw
                self._stderr_grew.notify_all()

    def wait_for_stderr(self, text: str, timeout: float = 10) -> str:
        """The server's stderr once it contains `text` (a server reports what it did there)."""
        with self._stderr_grew:
            if not self._stderr_grew.wait_for(lambda: text.encode() in self.stderr, timeout):
                raise TimeoutError(f"{text!r} not on stderr within {timeout} s: {self.stderr[-2000:]!r}")
            return self.stderr.decode(errors="replace")

    def send(self, message: Message) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    def start_request(self, method: str, params: dict[str, Any] | None = None) -> int:
        self._next_id += 1
        self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method,
                   **({"params": params} if params is not None else {})})
        return self._next_id

    def next_line(self, timeout: float = 10) -> Any:
        """The next stdout line (a dict, a list, or bytes that were not JSON); EOFError at end of output."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no output within {timeout} s; stderr: {self.stderr[-2000:]!r}") from None
        if line is _EOF:
            self.lines.put(_EOF)
            raise EOFError(f"the server closed stdout (exit {self.proc.poll()}); stderr: {self.stderr[-2000:]!r}")
        return line

    def wait_for(self, request_id: int, timeout: float = 10,
                 on_request: Callable[[Message], Any] | None = None) -> Message:
        """The response to `request_id`; server requests on the way are answered by `on_request`."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.01, deadline - time.monotonic()))
            if isinstance(line, dict) and line.get("id") == request_id and "method" not in line:
                return line
            self.seen.append(line)
            if isinstance(line, dict) and "method" in line and "id" in line and on_request is not None:
                self.send({"jsonrpc": "2.0", "id": line["id"], "result": on_request(line)})

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10,
                on_request: Callable[[Message], Any] | None = None) -> Message:
        return self.wait_for(self.start_request(method, params), timeout, on_request)

    def initialize(self, timeout: float = 10) -> Message:
        response = self.request("initialize", INITIALIZE_PARAMS, timeout)
        self.notify("notifications/initialized")
        return response

    def close(self, grace: float = 2.0) -> int:
        """The spec's stdio shutdown: close stdin, then SIGTERM, then SIGKILL, `grace` seconds apart.

        Returns the exit status. (server-everything 2026.8.31 does not exit when stdin closes: it
        needs the SIGTERM.)
        """
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        for stop in (self.proc.terminate, self.proc.kill):
            try:
                return self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                stop()
        return self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def time_to_initialize(argv: list[str], runs: int = 5, **kwargs: Any) -> list[float]:
    """Seconds from spawn to the initialize answer, once per run (for measuring fixture costs)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with WireClient(argv, **kwargs) as client:
            response = client.initialize(timeout=60)
            times.append(time.perf_counter() - start)
            assert "result" in response, response
    return times

"""JSON-RPC 2.0 over a Transport: ketch's requests, the server's notifications and its own requests.

Every byte here comes from a server ketch does not trust: a message that is not JSON-RPC
is counted and dropped (never raised into the caller's thread), a response to nothing is
ignored, and a request waits no longer than its timeout or the person's interrupt.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from ketch.errors import McpError
from ketch.ext.mcp.transport import Message, Transport

_WAIT_SLICE_S = 0.05  # how often a waiting request looks at the cancel event

# The server's requests ketch answers: method -> handler(params) -> result (raise McpError to refuse).
RequestHandler = Callable[[dict[str, Any]], dict[str, Any]]
NotificationHandler = Callable[[str, dict[str, Any]], None]
Progress = Callable[[float, float | None, str | None], None]

METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class _Pending:
    __slots__ = ("done", "error", "progress", "result")

    def __init__(self, progress: Progress | None) -> None:
        self.done = threading.Event()
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.progress = progress


class Connection:
    """One server's message stream.

    `handlers` answer the server's requests (ping is answered here); each runs in a thread
    of its own, since some wait for the person (elicitation). `on_notification` gets every
    notification but progress, which goes to the request it belongs to.
    """

    def __init__(self, transport: Transport, *, handlers: dict[str, RequestHandler] | None = None,
                 on_notification: NotificationHandler | None = None) -> None:
        self.transport = transport
        self.handlers = dict(handlers or {})
        self.on_notification = on_notification or (lambda method, params: None)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self.closed_reason: str | None = None
        self.dropped = 0  # messages that were not JSON-RPC
        self.last_dropped = ""

    def open(self) -> None:
        self.transport.open(self._deliver, self._closed)

    def close(self, reason: str = "closed by ketch") -> None:
        self._fail_all(reason)
        self.transport.close()

    # -- ketch -> server -------------------------------------------------------------------

    def request(self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float,
                cancel: threading.Event | None = None, progress: Progress | None = None) -> dict[str, Any]:
        """Send a request and wait for its result; McpError on an error, timeout or interrupt.

        On timeout or interrupt the server is told (`notifications/cancelled`), as the
        specification asks, so it can stop the work.
        """
        if self.closed_reason is not None:
            raise McpError(self.closed_reason)
        request_id = next(self._ids)
        pending = _Pending(progress)
        params = dict(params or {})
        if progress is not None:
            params["_meta"] = {**params.get("_meta", {}), "progressToken": request_id}
        with self._lock:
            self._pending[request_id] = pending
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            if getattr(self.transport, "sends_block", False):
                self._send_aside(message, pending)  # its send reads the answer: wait beside it, with Esc
            else:
                self.transport.send(message)
            self._wait(pending, method, timeout_s, cancel, request_id)
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        if pending.error is not None:
            raise McpError(pending.error)
        assert pending.result is not None
        return pending.result

    def _send_aside(self, message: Message, pending: _Pending) -> None:
        def send() -> None:
            try:
                self.transport.send(message)
            except McpError as exc:
                if not pending.done.is_set():
                    pending.error = str(exc)
                    pending.done.set()

        threading.Thread(target=send, daemon=True, name="mcp-send").start()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.transport.send(message)

    def _wait(self, pending: _Pending, method: str, timeout_s: float, cancel: threading.Event | None,
              request_id: int) -> None:
        deadline = time.monotonic() + timeout_s
        while not pending.done.wait(max(0.0, min(_WAIT_SLICE_S, deadline - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                self._cancel(request_id, "interrupted by the person")
                raise McpError(f"{method} was interrupted")
            if time.monotonic() >= deadline:
                self._cancel(request_id, f"no answer within {timeout_s:g} s")
                raise McpError(f"{method}: no answer within {timeout_s:g} s")

    def _cancel(self, request_id: int, reason: str) -> None:
        try:
            self.notify("notifications/cancelled", {"requestId": request_id, "reason": reason})
        except McpError:
            pass  # the connection is gone; nothing to tell

    # -- server -> ketch -------------------------------------------------------------------

    def _deliver(self, message: Any) -> None:
        if isinstance(message, list):  # a batch (allowed before protocol 2025-06-18); one level only
            for item in message:
                self._deliver_one(item)
            return
        self._deliver_one(message)

    def _deliver_one(self, message: Any) -> None:
        if not isinstance(message, dict):
            self._drop(message)
            return
        method = message.get("method")
        if isinstance(method, str):
            params = message.get("params")
            params = params if isinstance(params, dict) else {}
            if "id" in message:
                self._answer_later(message["id"], method, params)
            elif method == "notifications/progress":
                self._progress(params)
            else:
                self.on_notification(method, params)
            return
        if "id" in message and ("result" in message or "error" in message):
            self._settle(message)
            return
        self._drop(message)

    def _settle(self, message: Message) -> None:
        request_id = message.get("id")
        with self._lock:
            pending = self._pending.get(request_id) if isinstance(request_id, int) else None
        if pending is None:
            return  # an answer to nothing (or to a request given up on)
        if "error" in message:
            error = message["error"]
            if isinstance(error, dict):
                text = str(error.get("message") or "error")
                code = error.get("code")
                pending.error = f"{text} (code {code})" if isinstance(code, int) else text
            else:
                pending.error = "the server answered with a malformed error"
        elif isinstance(message["result"], dict):
            pending.result = message["result"]
        else:
            pending.error = "the server answered with a result that is not an object"
        pending.done.set()

    def _progress(self, params: dict[str, Any]) -> None:
        token = params.get("progressToken")
        with self._lock:
            pending = self._pending.get(token) if isinstance(token, int) else None
        done, total, note = params.get("progress"), params.get("total"), params.get("message")
        if pending is None or pending.progress is None or not isinstance(done, (int, float)):
            return
        pending.progress(float(done), float(total) if isinstance(total, (int, float)) else None,
                         note if isinstance(note, str) else None)

    def _answer_later(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        if method == "ping":
            self._reply(request_id, {})
            return
        handler = self.handlers.get(method)
        if handler is None:
            self._reply_error(request_id, METHOD_NOT_FOUND, f"ketch does not offer {method}")
            return

        def answer() -> None:
            try:
                self._reply(request_id, handler(params))
            except McpError as exc:
                self._reply_error(request_id, INVALID_PARAMS, str(exc))
            except Exception as exc:  # noqa: BLE001 - a handler's bug must not kill the reader
                self._reply_error(request_id, INTERNAL_ERROR, f"ketch failed to answer: {exc}")

        threading.Thread(target=answer, daemon=True, name=f"mcp-{method}").start()

    def _reply(self, request_id: Any, result: dict[str, Any]) -> None:
        try:
            self.transport.send({"jsonrpc": "2.0", "id": request_id, "result": result})
        except McpError:
            pass

    def _reply_error(self, request_id: Any, code: int, text: str) -> None:
        try:
            self.transport.send({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}})
        except McpError:
            pass

    def _drop(self, message: Any) -> None:
        self.dropped += 1
        self.last_dropped = repr(message)[:120]

    def _closed(self, reason: str) -> None:
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            if self.closed_reason is None:
                self.closed_reason = reason
            pending = list(self._pending.values())
        for item in pending:
            if not item.done.is_set():
                item.error = reason
                item.done.set()

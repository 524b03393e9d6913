"""ext.mcp.jsonrpc against a scripted in-memory server: what a hostile or broken server can do to a request."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from ketch.errors import McpError
from ketch.ext.mcp.jsonrpc import Connection


class Scripted:
    """A Transport whose server answers each sent message with `reply(message)` (a list of messages)."""

    def __init__(self, reply: Callable[[dict[str, Any]], list[Any]]) -> None:
        self.reply = reply
        self.sent: list[dict[str, Any]] = []
        self.deliver: Callable[[Any], None] = lambda m: None
        self.closed: Callable[[str], None] = lambda r: None

    def open(self, deliver: Callable[[Any], None], closed: Callable[[str], None]) -> None:
        self.deliver, self.closed = deliver, closed

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        for answer in self.reply(message):
            self.deliver(answer)

    def close(self) -> None:
        pass


def _connection(reply: Callable[[dict[str, Any]], list[Any]], **kw: Any) -> tuple[Connection, Scripted]:
    transport = Scripted(reply)
    conn = Connection(transport, **kw)
    conn.open()
    return conn, transport


def test_a_result_comes_back_to_its_request() -> None:
    conn, _ = _connection(lambda m: [{"jsonrpc": "2.0", "id": m["id"], "result": {"echo": m["params"]}}]
                          if "id" in m else [])
    assert conn.request("x", {"a": 1}, timeout_s=2) == {"echo": {"a": 1}}


def test_an_error_answer_raises_with_the_servers_message_and_code() -> None:
    conn, _ = _connection(lambda m: [{"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32000, "message": "nope"}}])
    with pytest.raises(McpError, match=r"nope \(code -32000\)"):
        conn.request("x", timeout_s=2)


def test_garbage_and_answers_to_nothing_are_dropped_not_raised() -> None:
    def reply(m: dict[str, Any]) -> list[Any]:
        return ["not json", 42, {"jsonrpc": "2.0", "id": 999, "result": {}}, {"weird": True},
                {"jsonrpc": "2.0", "id": m["id"], "result": {"ok": 1}}]
    conn, _ = _connection(reply)
    assert conn.request("x", timeout_s=2) == {"ok": 1}
    assert conn.dropped == 3


def test_a_result_that_is_not_an_object_is_an_error() -> None:
    conn, _ = _connection(lambda m: [{"jsonrpc": "2.0", "id": m["id"], "result": [1, 2]}])
    with pytest.raises(McpError, match="not an object"):
        conn.request("x", timeout_s=2)


def test_silence_times_out_and_the_server_is_told_to_cancel() -> None:
    conn, transport = _connection(lambda m: [])
    with pytest.raises(McpError, match="no answer within 0.2 s"):
        conn.request("tools/call", timeout_s=0.2)
    assert transport.sent[-1]["method"] == "notifications/cancelled"
    assert transport.sent[-1]["params"]["requestId"] == transport.sent[0]["id"]


def test_an_interrupt_ends_the_wait_and_cancels_on_the_server() -> None:
    cancel = threading.Event()
    conn, transport = _connection(lambda m: [])
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(McpError, match="interrupted"):
        conn.request("tools/call", timeout_s=30, cancel=cancel)
    assert transport.sent[-1]["method"] == "notifications/cancelled"


def test_a_closed_connection_fails_the_pending_request_with_the_reason() -> None:
    holder: list[Scripted] = []

    def reply(m: dict[str, Any]) -> list[Any]:
        threading.Timer(0.05, lambda: holder[0].closed("the server closed its output (exit status 1)")).start()
        return []
    conn, transport = _connection(reply)
    holder.append(transport)
    with pytest.raises(McpError, match="exit status 1"):
        conn.request("tools/call", timeout_s=30)
    with pytest.raises(McpError, match="exit status 1"):
        conn.request("tools/call", timeout_s=30)  # and every later one, at once


def test_progress_goes_to_the_request_it_belongs_to() -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    def reply(m: dict[str, Any]) -> list[Any]:
        token = m["params"]["_meta"]["progressToken"]
        return [{"jsonrpc": "2.0", "method": "notifications/progress",
                 "params": {"progressToken": token, "progress": 1, "total": 2, "message": "half"}},
                {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 12345, "progress": 9}},
                {"jsonrpc": "2.0", "id": m["id"], "result": {}}]
    conn, _ = _connection(reply)
    conn.request("x", timeout_s=2, progress=lambda done, total, note: seen.append((done, total, note)))
    assert seen == [(1.0, 2.0, "half")]


def test_the_servers_requests_are_answered_ping_by_us_unknown_ones_refused() -> None:
    answers: list[dict[str, Any]] = []
    done = threading.Event()

    def reply(m: dict[str, Any]) -> list[Any]:
        if "id" in m and "method" not in m:  # our answer to the server's request
            answers.append(m)
            if len(answers) == 3:
                done.set()
        return []
    _conn, transport = _connection(reply, handlers={"roots/list": lambda p: {"roots": []}})
    transport.deliver({"jsonrpc": "2.0", "id": "a", "method": "ping"})
    transport.deliver({"jsonrpc": "2.0", "id": "b", "method": "sampling/createMessage", "params": {}})
    transport.deliver({"jsonrpc": "2.0", "id": "c", "method": "roots/list"})
    assert done.wait(2)
    by_id = {a["id"]: a for a in answers}
    assert by_id["a"]["result"] == {}
    assert by_id["b"]["error"]["code"] == -32601
    assert by_id["c"]["result"] == {"roots": []}


def test_notifications_reach_the_handler() -> None:
    got: list[str] = []
    _conn, transport = _connection(lambda m: [], on_notification=lambda method, params: got.append(method))
    transport.deliver({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    transport.deliver([{"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info"}}])
    assert got == ["notifications/tools/list_changed", "notifications/message"]

"""Both HTTP transports against real servers built with the official SDK (tests/fakes/mcp_http_servers.py),
driven with raw JSON-RPC, and against the hostile routes beside them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from mcp_http_servers import McpHttpServer

from ketch.errors import McpError
from ketch.ext.mcp.http import StreamableHttpTransport
from ketch.ext.mcp.http_common import AuthorizationRequired
from ketch.ext.mcp.http_sse import SseTransport

TOKEN = "Bearer sekrit-token-0123456789"
WAIT_S = 20.0  # an upper bound for things that happen at once; never a pause


class Inbox:
    """What the transport delivered, and whether (why) it closed."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed: list[str] = []
        self.closed_event = threading.Event()
        self._cond = threading.Condition()

    def deliver(self, message: dict[str, Any]) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def close(self, reason: str) -> None:
        self.closed.append(reason)
        self.closed_event.set()

    def wait_for(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        with self._cond:
            assert self._cond.wait_for(lambda: any(match(m) for m in self.messages), WAIT_S), self.messages
            return next(m for m in self.messages if match(m))

    def answer(self, request_id: int) -> dict[str, Any]:
        return self.wait_for(lambda m: m.get("id") == request_id and "method" not in m)


def initialize(version: str = "2025-06-18") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call(request_id: int, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


def text_of(answer: dict[str, Any]) -> str:
    return str(answer["result"]["content"][0]["text"])


def in_thread(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def raises_within(fn: Callable[[], None]) -> BaseException:
    """The exception fn raised, failing the test if it runs on (a transport buffering an endless body)."""
    thread, errors = in_thread(fn)
    thread.join(WAIT_S)
    assert not thread.is_alive(), "still running: the body is being buffered"
    assert errors, "no error raised"
    return errors[0]


@pytest.fixture(scope="module")
def streamable() -> Iterator[McpHttpServer]:
    with McpHttpServer("streamable") as server:
        yield server


@pytest.fixture(scope="module")
def stateless() -> Iterator[McpHttpServer]:
    with McpHttpServer("json") as server:
        yield server


@pytest.fixture(scope="module")
def sse() -> Iterator[McpHttpServer]:
    with McpHttpServer("sse") as server:
        yield server


def opened(url: str, **kw: Any) -> tuple[StreamableHttpTransport, Inbox]:
    inbox = Inbox()
    transport = StreamableHttpTransport(url, {"Authorization": TOKEN}, **kw)
    transport.open(inbox.deliver, inbox.close)
    return transport, inbox


def started(url: str, **kw: Any) -> tuple[StreamableHttpTransport, Inbox]:
    transport, inbox = opened(url, **kw)
    transport.send(initialize())
    transport.send(INITIALIZED)
    return transport, inbox


# -- Streamable HTTP ------------------------------------------------------------------------------


def test_a_session_from_initialize_to_a_tool_call(streamable: McpHttpServer) -> None:
    transport, inbox = opened(streamable.url)
    try:
        transport.send(initialize())
        assert inbox.answer(1)["result"]["serverInfo"]["name"] == "ketch-test-http"
        assert transport.session_id and transport.protocol_version == "2025-06-18"
        transport.send(INITIALIZED)
        transport.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert {t["name"] for t in inbox.answer(2)["result"]["tools"]} >= {"add", "echo", "big"}
        transport.send(call(3, "add", a=2, b=3))
        assert text_of(inbox.answer(3)) == "5"
        transport.send(call(4, "chatty", text="hi"))  # its log message comes first, on the answer's stream
        log = [m for m in inbox.messages if m.get("method") == "notifications/message"]
        assert log[0]["params"]["data"] == "about to echo hi" and inbox.messages[-1]["id"] == 4
        assert inbox.closed == []
    finally:
        transport.close()


def test_what_the_server_sends_on_its_own_arrives_on_the_get_stream(streamable: McpHttpServer) -> None:
    transport, inbox = started(streamable.url)
    try:
        assert transport.listening.wait(WAIT_S)  # the SDK drops what it sends on its own while no GET is open
        transport.send(call(5, "announce"))
        inbox.wait_for(lambda m: m.get("method") == "notifications/tools/list_changed")
    finally:
        transport.close()


def test_the_session_id_is_reused_and_close_ends_the_session(streamable: McpHttpServer) -> None:
    transport, inbox = started(streamable.url)
    session = transport.session_id
    transport.send(call(2, "echo", text="again"))  # the SDK answers 400 to a request without the session
    assert text_of(inbox.answer(2)) == "again" and transport.session_id == session
    transport.close()
    headers = {"mcp-session-id": str(session), "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-06-18"}
    after = httpx.post(streamable.url, headers=headers, json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"})
    assert after.status_code == 404  # close() sent DELETE: the server forgot the session
    with pytest.raises(McpError, match="closed"):
        transport.send(call(3, "echo", text="late"))


def test_an_expired_session_ends_the_connection(streamable: McpHttpServer) -> None:
    transport, inbox = started(streamable.url)
    try:
        transport.session_id = "no-such-session"
        with pytest.raises(McpError, match="session expired"):
            transport.send(call(2, "echo", text="x"))
        assert inbox.closed_event.wait(WAIT_S) and "session expired" in inbox.closed[0]
        with pytest.raises(McpError, match="session expired"):
            transport.send(call(3, "echo", text="x"))
    finally:
        transport.close()
    assert len(inbox.closed) == 1


def test_a_stateless_server_answering_json(stateless: McpHttpServer) -> None:
    transport, inbox = started(stateless.url)
    try:
        assert transport.session_id is None and transport.protocol_version == "2025-06-18"
        transport.send(call(2, "add", a=20, b=22))
        assert text_of(inbox.answer(2)) == "42"
        transport.send(call(3, "echo", text="still here"))
        assert text_of(inbox.answer(3)) == "still here" and inbox.closed == []
    finally:
        transport.close()


def test_a_server_without_a_get_stream_is_fine(streamable: McpHttpServer) -> None:
    transport, inbox = started(streamable.base + "/no-get")
    try:
        listener = transport._listener
        assert listener is not None
        listener.join(WAIT_S)  # its GET was answered 405: the listener ends, the connection stays
        assert not listener.is_alive() and inbox.closed == []
        transport.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
        assert inbox.answer(2)["result"]["serverInfo"]["name"] == "no-get"
    finally:
        transport.close()


def test_cut_streams_are_resumed_from_the_last_event() -> None:
    with McpHttpServer("resumable") as server:
        inbox = Inbox()
        transport = StreamableHttpTransport(server.url, {})
        transport.open(inbox.deliver, inbox.close)
        try:
            transport.send(initialize("2025-11-25"))  # priming events (an id, no data) come from this version on
            transport.send(INITIALIZED)
            transport.send(call(2, "interrupted"))  # returns only once the answer came, over a resumed stream
            assert text_of(inbox.answer(2)) == "after the cut"
            logs = [m for m in inbox.messages if m.get("method") == "notifications/message"]
            assert [m["params"]["data"] for m in logs] == ["before the cut"]  # nothing replayed twice
            assert inbox.closed == []
        finally:
            transport.close()


def test_sends_from_several_threads_at_once(streamable: McpHttpServer) -> None:
    transport, inbox = started(streamable.url)
    try:
        threads = [in_thread(lambda i=i: transport.send(call(100 + i, "echo", text=f"n{i}"))) for i in range(8)]
        for thread, errors in threads:
            thread.join(WAIT_S)
            assert errors == []
        assert [text_of(inbox.answer(100 + i)) for i in range(8)] == [f"n{i}" for i in range(8)]
    finally:
        transport.close()


def test_401_says_authorization_is_needed_and_keeps_the_challenge(streamable: McpHttpServer) -> None:
    transport, inbox = opened(streamable.base + "/needs-auth")
    try:
        with pytest.raises(AuthorizationRequired) as caught:
            transport.send(initialize())
    finally:
        transport.close()
    assert "needs authorization (HTTP 401)" in str(caught.value) and caught.value.status == 401
    challenge = f'resource_metadata="{streamable.base}/.well-known/oauth-protected-resource/mcp"'
    assert challenge in str(caught.value.www_authenticate) and challenge in str(transport.www_authenticate)
    assert "sekrit" not in str(caught.value) and inbox.closed == []


def test_other_errors_quote_the_body_escaped_and_without_the_headers(streamable: McpHttpServer) -> None:
    transport, _ = opened(streamable.base + "/echo-auth")
    try:
        with pytest.raises(McpError) as caught:
            transport.send(initialize())
    finally:
        transport.close()
    message = str(caught.value)
    assert "HTTP 500" in message and "bad request" in message
    assert "\x1b" not in message and "\\x1b[2J" in message
    assert "sekrit" not in message and "[REDACTED]" in message


def test_a_result_over_the_cap_is_cut_off(streamable: McpHttpServer) -> None:
    transport, inbox = started(streamable.url, max_message_bytes=1024 * 1024)
    try:
        with pytest.raises(McpError, match="over 1 MiB; it was cut off"):
            transport.send(call(2, "big", size=3 * 1024 * 1024))
        transport.send(call(3, "big", size=1000))  # a message under the cap still passes
        assert len(text_of(inbox.answer(3))) == 1000
    finally:
        transport.close()


@pytest.mark.parametrize("path", ["/endless-json", "/endless-sse"])
def test_an_endless_body_is_cut_at_the_cap_not_buffered(streamable: McpHttpServer, path: str) -> None:
    transport, _ = opened(streamable.base + path, max_message_bytes=256 * 1024)
    try:
        error = raises_within(lambda: transport.send(initialize()))
    finally:
        transport.close()
    assert isinstance(error, McpError) and "cut off" in str(error)


def test_a_server_dying_mid_answer_fails_the_send_and_closes_the_connection() -> None:
    with McpHttpServer("streamable") as server:
        transport, inbox = started(server.url)
        try:
            thread, errors = in_thread(lambda: transport.send(call(2, "hang")))
            inbox.wait_for(lambda m: m.get("params", {}).get("data") == "hanging")
            server.kill()
            thread.join(WAIT_S)
            assert not thread.is_alive() and len(errors) == 1 and isinstance(errors[0], McpError)
            assert inbox.closed_event.wait(WAIT_S) and len(inbox.closed) == 1
            with pytest.raises(McpError):
                transport.send(call(3, "echo", text="anyone?"))
        finally:
            transport.close()


def test_redirects_are_followed_within_the_origin_only(streamable: McpHttpServer) -> None:
    transport, inbox = opened(streamable.base + "/moved")
    try:
        transport.send(initialize())
        assert inbox.answer(1)["result"]["protocolVersion"] == "2025-06-18"
    finally:
        transport.close()
    transport, _ = opened(streamable.base + "/away")
    try:
        with pytest.raises(McpError, match=r"redirected to another origin \(http://localhost:\d+\)"):
            transport.send(initialize())
    finally:
        transport.close()


def test_a_url_that_is_not_http_is_refused_in_one_line() -> None:
    with pytest.raises(McpError, match="must start with http:// or https://"):
        StreamableHttpTransport("file:///etc/passwd", {})
    with pytest.raises(McpError, match="must start with http:// or https://"):
        SseTransport("ftp://example.com/sse", {})


# -- HTTP+SSE -------------------------------------------------------------------------------------


def test_sse_a_session_from_initialize_to_a_tool_call(sse: McpHttpServer) -> None:
    inbox = Inbox()
    transport = SseTransport(sse.url, {"Authorization": TOKEN})
    transport.open(inbox.deliver, inbox.close)
    try:
        assert str(transport.endpoint).startswith(sse.base + "/messages/")
        transport.send(initialize("2024-11-05"))
        assert inbox.answer(1)["result"]["protocolVersion"] == "2024-11-05"
        transport.send(INITIALIZED)
        transport.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert "add" in {t["name"] for t in inbox.answer(2)["result"]["tools"]}
        transport.send(call(3, "add", a=1, b=2))
        assert text_of(inbox.answer(3)) == "3"
    finally:
        transport.close()
    assert inbox.closed == []


def test_sse_an_endpoint_on_another_origin_is_refused(sse: McpHttpServer) -> None:
    transport = SseTransport(sse.base + "/sse-elsewhere", {"Authorization": TOKEN})
    with pytest.raises(McpError, match=r"endpoint on another origin \(http://localhost:\d+\)"):
        transport.open(Inbox().deliver, Inbox().close)
    assert transport.endpoint is None


def test_sse_401_keeps_the_challenge(sse: McpHttpServer) -> None:
    transport = SseTransport(sse.base + "/needs-auth", {"Authorization": TOKEN})
    with pytest.raises(AuthorizationRequired, match="needs authorization"):
        transport.open(Inbox().deliver, Inbox().close)
    assert "resource_metadata" in str(transport.www_authenticate)


def test_sse_the_stream_ending_closes_the_connection() -> None:
    with McpHttpServer("sse") as server:
        inbox = Inbox()
        transport = SseTransport(server.url, {})
        transport.open(inbox.deliver, inbox.close)
        try:
            server.kill()
            assert inbox.closed_event.wait(WAIT_S) and len(inbox.closed) == 1
            with pytest.raises(McpError):
                transport.send(initialize("2024-11-05"))
        finally:
            transport.close()

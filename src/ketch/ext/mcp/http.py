"""Streamable HTTP (MCP 2025-03-26 and later): one POST per message, answers as JSON or an SSE stream.

The session: the server may name one (`Mcp-Session-Id`) on the initialize response; every later
request carries it, and `MCP-Protocol-Version` once the initialize result gave a version. A 404
on a session means it expired: the connection is over and the client starts a new one. After
`notifications/initialized` a background GET stream carries what the server sends on its own
(405: it sends nothing that way), resumed with `Last-Event-ID`; an answer stream cut after
event ids is resumed the same way. The older HTTP+SSE transport is in http_sse.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ketch.errors import McpError
from ketch.ext.mcp.http_common import (
    MAX_MESSAGE_BYTES,
    Auth,
    AuthorizationRequired,
    HttpConnection,
    HttpStatusError,
    check_url,
    messages,
)
from ketch.ext.mcp.transport import Message

if TYPE_CHECKING:
    import httpx

_VERSION = re.compile(r"[A-Za-z0-9._-]{1,40}")
_SESSION_ID = re.compile(r"[\x21-\x7e]{1,256}")  # the spec: visible ASCII only
_RECONNECT_S = 1.0  # when the server gave no `retry:`
_RESUME_ATTEMPTS = 3


class StreamableHttpTransport:
    """A Transport over Streamable HTTP. `send` may be called from several threads at once."""

    sends_block = True  # send() returns once the answer has been read: jsonrpc waits beside it

    def __init__(self, url: str, headers: dict[str, str], *, timeout_s: float = 30.0,
                 max_message_bytes: int = MAX_MESSAGE_BYTES, read_timeout_s: float = 300.0,
                 auth: Auth | None = None) -> None:
        self.url = check_url(url, "MCP server")
        self._headers = dict(headers)
        self._timeout_s = timeout_s
        self._read_timeout_s = read_timeout_s  # the longest silence while an answer or stream is read
        self._max = max_message_bytes
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.auth = auth
        self.auth_required = False  # the server answered 401/403: the manager says "needs authentication"
        self.www_authenticate: str | None = None  # the last 401/403 challenge, for the authorization flow
        self._http: HttpConnection | None = None
        self._deliver: Callable[[Message], None] | None = None
        self._closed: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._deliver_lock = threading.RLock()  # one message at a time, in order, whichever stream it came on
        self._init_ids: set[Any] = set()
        self._stopping = threading.Event()
        self._ended: str | None = None  # why the connection is over (close() or a failure)
        self._listener: threading.Thread | None = None
        self.listening = threading.Event()  # set once the server's GET stream is open (it may drop what it
        # sends on its own before then, and a server without one answers 405: then it is never set)

    def set_protocol_version(self, version: str) -> None:
        """The version the initialize result named (read from it as it passes, too)."""
        if not _VERSION.fullmatch(version):
            raise McpError(f"the MCP server named an unusable protocol version {version[:40]!r}")
        self.protocol_version = version

    def open(self, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        self._deliver, self._closed = deliver, closed
        self._http = HttpConnection(self.url, self._headers, timeout_s=self._timeout_s,
                                    read_timeout_s=self._read_timeout_s, max_message_bytes=self._max,
                                    auth=self.auth)

    def send(self, message: Message) -> None:
        import httpx

        http = self._connection()
        method = message.get("method")
        request_id = message.get("id") if method is not None else None
        if method == "initialize" and request_id is not None:
            with self._lock:
                self._init_ids.add(request_id)
        body = json.dumps(message, ensure_ascii=False).encode()
        headers = self._session_headers(initialize=method == "initialize")
        headers.update({"accept": "application/json, text/event-stream", "content-type": "application/json"})
        try:
            with http.stream("POST", self.url, headers, body) as response:
                if method == "initialize":
                    self._take_session_id(response)
                self._check(response, http)
                if response.status_code not in (202, 204) and request_id is not None:
                    self._read_answer(http, response, request_id)
        except httpx.TimeoutException:
            raise McpError(f"the MCP server at {http.origin} did not answer in time") from None
        except httpx.TransportError as e:
            raise self._fail(f"lost the connection to the MCP server at {http.origin} ({type(e).__name__})") from None
        if method == "notifications/initialized":
            self._start_listener(http)

    def _read_answer(self, http: HttpConnection, response: httpx.Response, request_id: Any) -> None:
        kind = _content_type(response)
        if kind == "text/event-stream":
            last_id, retry_ms = self._read_answer_stream(http, response, request_id)
            if last_id is not None:
                self._resume(http, request_id, last_id, retry_ms)
        elif kind == "application/json":
            for m in messages(http.read_json(response), http.origin):
                self._pass(m)
        else:
            raise McpError(f"the MCP server at {http.origin} answered with {kind or 'no content type'}, "
                           "not JSON or an event stream")

    def close(self) -> None:
        with self._lock:
            if self._ended == "closed":
                return
            self._ended = "closed"
        self._stopping.set()
        http = self._http
        if http is None:
            return
        if self.session_id is not None:
            # The server may forget the session now; it may also refuse (405) or be gone: closing goes on.
            with contextlib.suppress(Exception), http.stream("DELETE", self.url, self._session_headers(),
                                                             timeout_s=self._timeout_s):
                pass
        http.close()
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join(timeout=self._timeout_s)

    # -- the session ---------------------------------------------------------------------------

    def _connection(self) -> HttpConnection:
        with self._lock:
            ended, http = self._ended, self._http
        if ended is not None:
            raise McpError("the connection to the MCP server is closed" if ended == "closed" else ended)
        if http is None:
            raise McpError("the MCP transport was used before open()")
        return http

    def _session_headers(self, *, initialize: bool = False) -> dict[str, str]:
        headers: dict[str, str] = {}
        if not initialize:
            if self.session_id is not None:
                headers["mcp-session-id"] = self.session_id
            if self.protocol_version is not None:
                headers["mcp-protocol-version"] = self.protocol_version
        return headers

    def _take_session_id(self, response: httpx.Response) -> None:
        session = response.headers.get("mcp-session-id")
        if session is None or response.status_code >= 400:
            return
        if not _SESSION_ID.fullmatch(session):
            raise McpError("the MCP server sent a session id that is not visible ASCII")
        self.session_id = session

    def _check(self, response: httpx.Response, http: HttpConnection) -> None:
        if response.status_code < 400:
            return
        if response.status_code == 404 and self.session_id is not None:
            raise self._fail(f"the MCP server at {http.origin} ended the session (session expired)")
        error = http.status_error(response)
        if isinstance(error, AuthorizationRequired):
            self.www_authenticate = error.www_authenticate
            self.auth_required = True
        raise error

    def _fail(self, reason: str) -> McpError:
        """The connection is over: tell `closed` once (never after close()), and refuse later sends."""
        with self._lock:
            first = self._ended is None
            if first:
                self._ended = reason
            ended = self._ended
        if first:
            self._stopping.set()
            if self._closed is not None:
                self._closed(reason)
        return McpError("the connection to the MCP server is closed" if ended == "closed" else reason)

    def _pass(self, message: Message) -> None:
        """Hand one message on, noting the protocol version when it is the initialize result."""
        result = message.get("result")
        if "id" in message and isinstance(result, dict):
            with self._lock:
                answers_initialize = message["id"] in self._init_ids
                self._init_ids.discard(message["id"])
            version = result.get("protocolVersion")
            if answers_initialize and isinstance(version, str):
                self.set_protocol_version(version)
        with self._deliver_lock:
            if self._deliver is not None and self._ended != "closed":
                self._deliver(message)

    # -- event streams -------------------------------------------------------------------------

    def _read_answer_stream(self, http: HttpConnection, response: httpx.Response,
                            request_id: Any) -> tuple[str | None, int | None]:
        """Deliver the stream's messages. (None, _) once the answer came; else where to resume it from."""
        import httpx

        last_id: str | None = None
        retry_ms: int | None = None
        answered = False
        try:
            for event in http.events(response):
                last_id = event.id if event.id else last_id
                retry_ms = event.retry_ms if event.retry_ms is not None else retry_ms
                if event.event != "message" or not event.data.strip():
                    continue  # a priming event (an id, no data) or a kind MCP does not use
                for m in messages(http.parse(event.data), http.origin):
                    self._pass(m)
                    answered = answered or ("method" not in m and m.get("id") == request_id)
                if answered:
                    break  # the answer ends it; a replayed stream may be held open after
        except httpx.TransportError:
            if self._stopping.is_set() or last_id is None:
                raise
        if answered:
            return None, None
        if last_id is None:
            raise McpError(f"the MCP server at {http.origin} ended its answer stream without answering")
        return last_id, retry_ms

    def _resume(self, http: HttpConnection, request_id: Any, last_id: str, retry_ms: int | None) -> None:
        """GET the cut answer stream again from its last event, until the answer comes."""
        for _ in range(_RESUME_ATTEMPTS):
            if self._stopping.wait(retry_ms / 1000 if retry_ms is not None else _RECONNECT_S):
                raise McpError("the connection to the MCP server is closed")
            headers = {**self._session_headers(), "accept": "text/event-stream", "last-event-id": last_id}
            with http.stream("GET", self.url, headers) as response:
                if response.status_code == 405:
                    break
                self._check(response, http)
                resumed, retry = self._read_answer_stream(http, response, request_id)
            if resumed is None:
                return
            retry_ms = retry if retry is not None else retry_ms
            last_id = resumed
        raise McpError(f"the MCP server at {http.origin} cut its answer stream and did not resume it")

    def _start_listener(self, http: HttpConnection) -> None:
        with self._lock:
            if self._listener is not None or self._ended is not None:
                return
            self._listener = threading.Thread(target=self._listen, args=(http,), name="mcp-http-get", daemon=True)
        self._listener.start()

    def _listen(self, http: HttpConnection) -> None:
        """The GET stream of server-initiated messages, reconnected until close() or the server is gone."""
        import httpx

        last_id: str | None = None
        retry_ms: int | None = None
        errors = 0
        while not self._stopping.is_set():
            headers = {**self._session_headers(), "accept": "text/event-stream"}
            if last_id is not None:
                headers["last-event-id"] = last_id
            try:
                with http.stream("GET", self.url, headers) as response:
                    if response.status_code == 405:
                        return  # the server sends nothing on its own
                    self._check(response, http)
                    if not _is_event_stream(response):
                        return  # some servers answer a GET they do not serve with JSON or a page
                    errors = 0
                    self.listening.set()
                    for event in http.events(response):
                        last_id = event.id if event.id else last_id
                        retry_ms = event.retry_ms if event.retry_ms is not None else retry_ms
                        if event.event == "message" and event.data.strip():
                            for m in messages(http.parse(event.data), http.origin):
                                self._pass(m)
            except httpx.ReadTimeout:
                continue  # a quiet server: ask again
            except httpx.ConnectError:
                if not self._stopping.is_set():
                    self._fail(f"the MCP server at {http.origin} is gone (cannot connect)")
                return
            except (httpx.TransportError, McpError) as e:
                if self._stopping.is_set():
                    return
                if isinstance(e, HttpStatusError) and not e.retryable:
                    return  # a 4xx where 405 was meant (POSTs still work): no stream, the connection stays
                if isinstance(e, McpError) and not isinstance(e, HttpStatusError):
                    self._fail(str(e))  # an expired session, a message over the cap or not JSON
                    return
                errors += 1
                if errors > _RESUME_ATTEMPTS:
                    self._fail(f"lost the stream from the MCP server at {http.origin}")
                    return
            if self._stopping.wait(retry_ms / 1000 if retry_ms is not None else _RECONNECT_S):
                return


def _content_type(response: httpx.Response) -> str:
    kind: str = response.headers.get("content-type", "")
    return kind.partition(";")[0].strip().lower()


def _is_event_stream(response: httpx.Response) -> bool:
    return _content_type(response) == "text/event-stream"

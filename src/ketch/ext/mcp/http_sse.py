"""HTTP+SSE (MCP 2024-11-05), still served by many remote servers: a GET stream carries every message
from the server; its first `endpoint` event names where to POST ours.

The endpoint must stay on the stream's origin: a server (or whoever can inject an event) naming
another host would otherwise receive every message ketch sends, with the person's headers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ketch.errors import McpError
from ketch.ext.mcp.http_common import (
    MAX_MESSAGE_BYTES,
    Auth,
    AuthorizationRequired,
    HttpConnection,
    check_url,
    messages,
    origin,
)
from ketch.ext.mcp.transport import Message

if TYPE_CHECKING:
    import httpx


class SseTransport:
    """A Transport over HTTP+SSE. `open` returns once the endpoint is known (or raises McpError)."""

    def __init__(self, url: str, headers: dict[str, str], *, timeout_s: float = 30.0,
                 max_message_bytes: int = MAX_MESSAGE_BYTES, read_timeout_s: float = 300.0,
                 auth: Auth | None = None) -> None:
        self.url = check_url(url, "MCP server")
        self._headers = dict(headers)
        self._timeout_s = timeout_s
        self._read_timeout_s = read_timeout_s  # for answers to POSTs; the event stream may stay silent
        self._max = max_message_bytes
        self.endpoint: str | None = None
        self.auth = auth
        self.auth_required = False  # the server answered 401/403: the manager says "needs authentication"
        self.www_authenticate: str | None = None
        self._http: HttpConnection | None = None
        self._deliver: Callable[[Message], None] | None = None
        self._closed: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: McpError | None = None
        self._ended: str | None = None
        self._reader: threading.Thread | None = None

    def open(self, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        self._deliver, self._closed = deliver, closed
        self._http = HttpConnection(self.url, self._headers, timeout_s=self._timeout_s,
                                    read_timeout_s=self._read_timeout_s, max_message_bytes=self._max,
                                    auth=self.auth)
        self._reader = threading.Thread(target=self._read, args=(self._http,), name="mcp-sse", daemon=True)
        self._reader.start()
        if not self._ready.wait(self._timeout_s):
            self.close()
            raise McpError(f"the MCP server at {self._http.origin} sent no endpoint within {self._timeout_s:g} s")
        if self._start_error is not None:
            self.close()
            raise self._start_error

    def send(self, message: Message) -> None:
        import httpx

        with self._lock:
            ended, http, endpoint = self._ended, self._http, self.endpoint
        if ended is not None:
            raise McpError("the connection to the MCP server is closed" if ended == "closed" else ended)
        if http is None or endpoint is None:
            raise McpError("the MCP transport was used before open()")
        body = json.dumps(message, ensure_ascii=False).encode()
        try:
            with http.stream("POST", endpoint, {"content-type": "application/json"}, body,
                             timeout_s=self._timeout_s) as response:
                if response.status_code == 404:
                    raise self._fail(f"the MCP server at {http.origin} ended the session (session expired)")
                if response.status_code >= 400:
                    raise self._status_error(http, response)
        except httpx.TimeoutException:
            raise McpError(f"the MCP server at {http.origin} did not take the message in time") from None
        except httpx.TransportError as e:
            raise self._fail(f"lost the connection to the MCP server at {http.origin} ({type(e).__name__})") from None

    def close(self) -> None:
        with self._lock:
            if self._ended == "closed":
                return
            self._ended = "closed"
        if self._http is not None:
            self._http.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=self._timeout_s)

    def _read(self, http: HttpConnection) -> None:
        """The stream, from its endpoint event to its end; its end ends the connection."""
        import httpx

        reason = f"the MCP server at {http.origin} ended its event stream"
        try:
            with http.stream("GET", self.url, {"accept": "text/event-stream"}, endless=True) as response:
                if response.status_code >= 400:
                    raise self._status_error(http, response)
                kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                if kind != "text/event-stream":
                    raise McpError(f"the MCP server at {http.origin} answered with {kind or 'no content type'}, "
                                   "not an event stream: is it a Streamable HTTP server (type \"http\")?")
                for event in http.events(response):
                    if event.event == "endpoint" and self.endpoint is None:
                        self._take_endpoint(http, response, event.data.strip())
                    elif event.event == "message" and self.endpoint is not None and event.data.strip():
                        for m in messages(http.parse(event.data), http.origin):
                            self._pass(m)
        except McpError as e:
            reason = str(e)
            if not self._ready.is_set():
                self._start_error = e
        except httpx.TimeoutException:
            reason = f"the MCP server at {http.origin} did not answer in {self._timeout_s:g} s"
        except httpx.TransportError as e:
            reason = f"lost the connection to the MCP server at {http.origin} ({type(e).__name__})"
        if not self._ready.is_set() and self._start_error is None:
            self._start_error = McpError(reason)
        self._ready.set()
        self._fail(reason)

    def _status_error(self, http: HttpConnection, response: httpx.Response) -> McpError:
        error = http.status_error(response)
        if isinstance(error, AuthorizationRequired):
            self.www_authenticate = error.www_authenticate
            self.auth_required = True
        return error

    def _take_endpoint(self, http: HttpConnection, response: httpx.Response, data: str) -> None:
        try:
            endpoint = str(response.url.join(data))
        except Exception:  # noqa: BLE001 - httpx.InvalidURL and whatever else a bad URL raises
            raise McpError(f"the MCP server at {http.origin} named an endpoint that is not a URL") from None
        if origin(endpoint) != http.origin:
            raise McpError(f"the MCP server at {http.origin} named an endpoint on another origin "
                           f"({origin(endpoint)}); ketch sends messages only to the server's own origin")
        with self._lock:
            self.endpoint = endpoint
        self._ready.set()

    def _pass(self, message: Message) -> None:
        if self._deliver is not None and self._ended != "closed":
            self._deliver(message)

    def _fail(self, reason: str) -> McpError:
        """The connection is over: tell `closed` once, unless close() ended it or open() is raising it."""
        with self._lock:
            first = self._ended is None
            if first:
                self._ended = reason
            ended = self._ended
        if first and self._start_error is None and self._closed is not None:
            self._closed(reason)
        return McpError("the connection to the MCP server is closed" if ended == "closed" else reason)

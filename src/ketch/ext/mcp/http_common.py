"""What both HTTP transports share: same-origin requests, status errors, capped bodies and SSE reads.

A remote server is untrusted input (DESIGN.md §5): a redirect may not carry the person's headers
(tokens) to another origin, a body is never buffered past the message cap, and an error body
quoted back is short, escaped for the terminal and scrubbed of every header value ketch sent.
Nothing here logs: the headers hold tokens.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ketch.errors import McpError

if TYPE_CHECKING:
    import httpx

    from ketch.providers.sse import SSEEvent

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 5
_SNIPPET_CHARS = 200
_REDIRECTS = (301, 302, 307, 308)  # 303 turns a POST into a GET: not something a JSON-RPC endpoint means


class HttpStatusError(McpError):
    """The server answered with an HTTP error status (`status`)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


class AuthorizationRequired(HttpStatusError):
    """The server answered 401 or 403. `www_authenticate` (the challenge, no secret in it) is what
    the MCP authorization flow starts from: it names the protected-resource metadata."""

    def __init__(self, message: str, status: int, www_authenticate: str | None) -> None:
        super().__init__(message, status)
        self.www_authenticate = www_authenticate


class Auth(Protocol):
    """Where a transport's `Authorization` header comes from (oauth.BearerAuth)."""

    def header(self) -> str | None:
        """The header's value now (refreshed when about to expire), or None to send none."""

    def refresh(self, sent: str | None) -> bool:
        """After a 401 to `sent`: True when there is a new value to retry with."""


def origin(url: str) -> str:
    """scheme://host[:port], lower-cased: what a redirect or an endpoint must keep, and all an error shows
    of a URL (its path or query may hold a token)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None and port != default else "")


def check_url(url: str, what: str) -> str:
    """The URL, or a one-line McpError saying what to fix."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise McpError(f"{what}: the url must start with http:// or https:// and name a host")
    return url


class HttpConnection:
    """One httpx client, the server's origin, and every response being read (so close() can cut them).

    Closing an httpx response from another thread does not wake a thread blocked reading its
    socket; shutting the socket down does, so `abort_all` reaches for the socket itself.
    """

    def __init__(self, url: str, headers: dict[str, str], *, timeout_s: float, read_timeout_s: float,
                 max_message_bytes: int, auth: Auth | None = None) -> None:
        import httpx

        from ketch import __version__

        self.origin = origin(url)
        self.headers = dict(headers)
        self.auth = auth
        self.max_message_bytes = max_message_bytes
        self.client = httpx.Client(
            timeout=httpx.Timeout(read_timeout_s, connect=timeout_s, write=timeout_s, pool=timeout_s),
            headers={"user-agent": f"ketch/{__version__}"},
            follow_redirects=False,  # followed by hand, within the origin only (stream)
            verify=not url.lower().startswith("http://"))  # plain http: skip loading the CA bundle
        self._live: set[httpx.Response] = set()
        self._lock = threading.Lock()
        self._closing = False
        secrets = {v for v in headers.values() if len(v) >= 8}
        secrets |= {part for v in headers.values() for part in v.split() if len(part) >= 8}
        self._secrets = sorted(secrets, key=len, reverse=True)

    @contextmanager
    def stream(self, method: str, url: str, headers: dict[str, str], content: bytes | None = None,
               timeout_s: float | None = None, endless: bool = False) -> Iterator[httpx.Response]:
        """A response being read, after following redirects that stay on the server's origin.

        `timeout_s`: one bound for every phase instead of the client's; `endless`: a stream that may
        stay silent for as long as the server likes (only connecting is bounded)."""
        import httpx

        retried = False
        for _ in range(MAX_REDIRECTS + 2):
            sent = self._authorization()
            extra = {"authorization": sent} if sent is not None else {}
            request = self.client.build_request(method, url, headers={**self.headers, **extra, **headers},
                                                content=content)
            if timeout_s is not None:
                request.extensions["timeout"] = httpx.Timeout(timeout_s).as_dict()
            elif endless:
                request.extensions["timeout"] = httpx.Timeout(self.client.timeout.connect, read=None).as_dict()
            response = self.client.send(request, stream=True)
            if response.status_code == 401 and sent is not None and not retried and self.auth is not None:
                retried = True  # once: a refreshed token the server refuses too is the person's to fix
                if self.auth.refresh(sent):
                    response.close()
                    continue
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                response.close()
                target = str(response.url.join(location))
                if origin(target) != self.origin:
                    raise McpError(f"the MCP server at {self.origin} redirected to another origin "
                                   f"({origin(target)}); ketch follows redirects only within the same origin")
                url = target
                continue
            with self._lock:
                closing = self._closing
                self._live.add(response)
            if closing:
                self.abort_all()
            try:
                yield response
            finally:
                with self._lock:
                    self._live.discard(response)
                response.close()
            return
        raise McpError(f"the MCP server at {self.origin} redirected more than {MAX_REDIRECTS} times")

    def _authorization(self) -> str | None:
        """The auth's header value, remembered as a secret an error body must not quote."""
        if self.auth is None:
            return None
        value = self.auth.header()
        if value is not None and value not in self._secrets:
            self._secrets = sorted({*self._secrets, value, value.split()[-1]}, key=len, reverse=True)
        return value

    def abort_all(self) -> None:
        """Cut every response being read, from any thread: its reader gets a transport error at once."""
        with self._lock:
            live = list(self._live)
        for response in live:
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Cut what is being read, and whatever starts being read from now on; release the connections."""
        with self._lock:
            self._closing = True
        self.abort_all()
        self.client.close()

    def status_error(self, response: httpx.Response) -> HttpStatusError:
        """The error for a status >= 400: authorization apart, with a short escaped snippet of the body."""
        status = response.status_code
        if status in (401, 403):
            said = "it refused the credentials sent" if status == 403 else "it needs credentials"
            return AuthorizationRequired(
                f"the MCP server at {self.origin} needs authorization (HTTP {status}): {said}",
                status, response.headers.get("www-authenticate"))
        snippet = self.snippet(response)
        return HttpStatusError(f"the MCP server at {self.origin} answered HTTP {status}"
                               + (f": {snippet}" if snippet else ""), status)

    def snippet(self, response: httpx.Response) -> str:
        """At most 200 characters of the body, one line, control characters visible, header values removed."""
        from ketch.terminal_text import printable

        raw = b""
        with contextlib.suppress(Exception):  # a snippet is a courtesy: a body that cannot be read has none
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) >= 4096:
                    break
        text = " ".join(raw[:4096].decode("utf-8", errors="replace").split())
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        if len(text) > _SNIPPET_CHARS:
            text = text[:_SNIPPET_CHARS] + "…"
        return printable(text)

    def read_json(self, response: httpx.Response) -> Any:
        """The body as JSON, refused past the message cap before it is buffered."""
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_message_bytes:
            raise self.too_big()
        raw = bytearray()
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) > self.max_message_bytes:
                raise self.too_big()
        return self.parse(bytes(raw))

    def events(self, response: httpx.Response) -> Iterator[SSEEvent]:
        """The SSE events of a response as they arrive; one event past the message cap ends it."""
        from ketch.providers.sse import SSEParser

        parser = SSEParser()
        pending = 0  # bytes read since the last event was dispatched: what the parser may be holding
        for chunk in response.iter_bytes():
            pending += len(chunk)
            events = parser.feed(chunk)
            if events:
                pending = 0
            elif pending > self.max_message_bytes:
                raise self.too_big()
            yield from events
        yield from parser.close()

    def parse(self, data: str | bytes) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            raise McpError(f"the MCP server at {self.origin} sent a message that is not JSON") from None

    def too_big(self) -> McpError:
        return McpError(f"the MCP server at {self.origin} sent a message over "
                        f"{self.max_message_bytes // (1024 * 1024) or self.max_message_bytes} "
                        f"{'MiB' if self.max_message_bytes >= 1024 * 1024 else 'bytes'}; it was cut off")


def messages(value: Any, where: str) -> list[dict[str, Any]]:
    """A JSON-RPC message or batch as a list of messages; anything else breaks the protocol."""
    batch = value if isinstance(value, list) else [value]
    if not batch or not all(isinstance(m, dict) for m in batch):
        raise McpError(f"the MCP server at {where} sent something that is not a JSON-RPC message")
    return batch

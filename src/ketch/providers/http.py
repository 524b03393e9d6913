"""What the HTTP providers share about their connections: the client, one streamed POST, and
cutting a stream from another thread.

`post_sse` sends a request and reads its event stream, turning every failure into a typed error
(the policy, what is retried and how it is explained, is in retry.py). `abort_streams` is
`Provider.abort()` of the HTTP codecs. The loop notices `Agent.cancel` only when the next
stream item arrives; a model that stalls mid-reply would keep the user waiting until the read
timeout. Shutting the connection's socket down makes the blocked read return at once (a plain
close() does not wake a read blocked in another thread on Linux); the codec then raises, and
the loop, seeing the cancel flag, ends the turn as interrupted. httpx offers no public way to
reach the socket, so this walks its pool's private attributes, and gives up quietly (the read
timeout still applies) on a version whose internals differ.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ketch.providers.base import ProviderConfig, ProviderError
from ketch.providers.retry import Endpoint, RetryableError, classify_failure, error_fields, snippet, transport_failure
from ketch.providers.sse import SSEEvent, iter_sse

if TYPE_CHECKING:
    import httpx

_SSE_START = (b"data:", b"event:", b"id:", b"retry:", b":")


def _sockets(client: Any) -> list[socket.socket]:
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    found = []
    for conn in list(getattr(pool, "connections", None) or []):
        inner = getattr(conn, "_connection", None)
        stream = getattr(inner, "_network_stream", None)
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # noqa: BLE001 - an httpcore internal we do not know: leave it to the read timeout
            sock = None
        if isinstance(sock, socket.socket):
            found.append(sock)
    return found


def abort_streams(client: Any) -> int:
    """Shut down every open connection of an httpx client (or None: nothing was sent yet);
    return how many were cut."""
    cut = 0
    for sock in _sockets(client):
        try:
            sock.shutdown(socket.SHUT_RDWR)
            cut += 1
        except OSError:
            pass
    return cut


def new_client(config: ProviderConfig, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """One client per provider, kept for its connection pool: later turns skip the TLS handshake."""
    import httpx

    from ketch import __version__

    return httpx.Client(
        timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
        transport=transport,
        headers={"user-agent": f"ketch/{__version__}"},
        # A plain-http server (Ollama, vLLM, a test server) never makes a TLS connection (redirects
        # are not followed), so skip loading the CA bundle: ~17 ms of start-up.
        verify=not config.base_url.lower().startswith("http://"),
    )


def post_sse(
    client: httpx.Client,
    url: str,
    *,
    body: dict[str, Any],
    headers: Mapping[str, str],
    endpoint: Endpoint,
    json_fallback: Callable[[Any], Iterable[SSEEvent]] | None = None,
) -> Generator[SSEEvent, None, None]:
    """POST `body` and yield the reply's SSE events; every failure leaves as a typed error.

    A 2xx reply that is not an event stream is sniffed rather than trusted to its
    content type: compatible servers mislabel streams, and some answer a streaming request
    with one JSON object, which `json_fallback` (if given) turns into events.
    """
    import httpx

    try:
        with client.stream("POST", url, json=body, headers=headers) as resp:
            if not 200 <= resp.status_code < 300:
                resp.read()
                raise _status_failure(resp, endpoint)
            chunks: Iterable[bytes] = resp.iter_bytes()
            if "event-stream" not in resp.headers.get("content-type", "").lower():
                chunks = yield from _sniff(resp, chunks, endpoint, json_fallback)
            yield from iter_sse(chunks)
    except httpx.RequestError as exc:  # transport faults, bad URLs, undecodable bodies
        raise transport_failure(exc, endpoint) from None


def _status_failure(resp: httpx.Response, endpoint: Endpoint) -> RetryableError | ProviderError:
    text = resp.text
    try:
        message, err_type, code = error_fields(json.loads(text))
    except ValueError:
        message, err_type, code = "", "", ""
    return classify_failure(
        endpoint, status=resp.status_code, message=message or text, err_type=err_type,
        code=code, headers=resp.headers,
    )


def _sniff(
    resp: httpx.Response,
    chunks: Iterable[bytes],
    endpoint: Endpoint,
    json_fallback: Callable[[Any], Iterable[SSEEvent]] | None,
) -> Generator[SSEEvent, None, Iterable[bytes]]:
    """Decide from the first bytes whether an unlabelled reply is SSE, JSON, or junk.

    Returns (as the generator's value) the chunks to parse as SSE, re-prefixed with what
    was read; yields events itself when it handled a JSON reply.
    """
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if head.strip():
            break
    start = head.lstrip()
    if not start:
        return iter(())  # an empty reply: the codec sees no terminal event and retries
    if start.startswith(_SSE_START):
        return _chain(head, iterator)
    ctype = resp.headers.get("content-type") or "no content type"
    text = (head + b"".join(iterator)).decode("utf-8", errors="replace")
    if start[:1] in (b"{", b"["):
        try:
            payload = json.loads(text)
        except ValueError:
            raise ProviderError(
                f"{endpoint.label} sent a reply that is neither an event stream nor valid JSON "
                f"({ctype}): {snippet(endpoint.scrub(text), 120)}", kind="malformed",
            ) from None
        message, err_type, code = error_fields(payload)
        if isinstance(payload, dict) and ("error" in payload or payload.get("type") == "error"):
            raise classify_failure(endpoint, status=None, message=message, err_type=err_type, code=code)
        if json_fallback is not None:
            yield from json_fallback(payload)
            return iter(())
    raise ProviderError(
        f"{endpoint.label} sent {ctype} instead of an event stream: {snippet(endpoint.scrub(text), 120)}",
        kind="malformed",
    )


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest

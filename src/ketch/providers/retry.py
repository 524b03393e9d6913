"""How a model request is judged, retried, and explained when it fails for good (the policy).

Shared by every codec so that all dialects agree on one policy (DESIGN.md §3): resend only
what another attempt can fix (429, 500, 502, 503, 504, 529, connection faults, read
timeouts, streams cut mid-way), never a client error or a bug, and turn everything else
into a one-line `ProviderError` that tells the user what to change. Codecs raise
`RetryableError` for the first kind; `with_retries` owns the waiting and the counting.
How the request is sent and its stream read is in http.py.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from ketch.errors import KetchError
from ketch.providers.base import ErrorKind, ProviderConfig, ProviderError, Retrying, StreamEvent

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
SNIPPET_CHARS = 300


@cache
def _context_too_long() -> re.Pattern[str]:
    """Compiled at first use: only a failed request is classified."""
    return re.compile(
        r"prompt is too long|context[_ ]length|maximum context|context (?:size|window|limit)"
        r"|too many tokens|reduce the length of the messages",
        re.IGNORECASE,
    )


@dataclass
class Endpoint:
    """What failure messages need to know about the server being called."""

    label: str  # "Anthropic", "OpenAI", or the host of a compatible server
    base_url: str
    key_env: str
    base_url_env: str
    api_key: str | None
    model: str

    def scrub(self, text: str) -> str:
        """Servers sometimes echo the credential back; it must never reach the user's screen."""
        if self.api_key and len(self.api_key) >= 4:
            text = text.replace(self.api_key, "[redacted]")
        return text


class RetryableError(KetchError):
    """A failure another attempt may fix; `str()` is the message if retries run out."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def with_retries(
    config: ProviderConfig,
    attempt: Callable[[], Iterator[StreamEvent]],
    *,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> Iterator[StreamEvent]:
    """Run `attempt` until it completes, announcing each resend with a `Retrying` event."""
    retries = 0
    while True:
        try:
            yield from attempt()
            return
        except RetryableError as exc:
            if retries >= config.max_retries:
                suffix = f" (gave up after {retries} {'retry' if retries == 1 else 'retries'})" if retries else ""
                raise ProviderError(f"{exc}{suffix}", kind=exc.kind, status=exc.status) from None
            retries += 1
            delay = retry_delay(retries, config, exc.retry_after, rand)
            yield Retrying(attempt=retries, delay_s=delay, reason=exc.reason)
            if delay > 0:
                sleep(delay)


def retry_delay(
    retry_number: int, config: ProviderConfig, retry_after: float | None, rand: Callable[[], float]
) -> float:
    """The server's own `retry-after` wins; otherwise doubling backoff with jitter.

    Jitter keeps many agents that failed together (one rate limit, one outage) from all
    coming back in the same instant; it only ever shortens the wait, down to half.
    """
    if retry_after is not None:
        return max(0.0, min(retry_after, config.retry_max_s))
    ceiling: float = min(config.retry_base_s * (2 ** (retry_number - 1)), config.retry_max_s)
    return ceiling * (0.5 + 0.5 * rand())


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` in seconds or as an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """One line, bounded: server messages go straight into a status line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_fields(payload: Any) -> tuple[str, str, str]:
    """(message, type, code) from the error shapes servers use in the wild.

    Anthropic `{"type":"error","error":{"type","message"}}`, OpenAI `{"error":{"message",
    "type","code"}}`, Ollama `{"error":"..."}`, vLLM `{"object":"error","message"}`,
    FastAPI `{"detail":...}`.
    """
    if not isinstance(payload, dict):
        return "", "", ""
    err = payload.get("error", payload)
    if isinstance(err, str):
        return err, "", ""
    if not isinstance(err, dict):
        return "", "", ""
    message = err.get("message") or err.get("detail") or payload.get("message") or ""
    if not isinstance(message, str):
        message = json.dumps(message)
    kind = err.get("type") if isinstance(err.get("type"), str) else ""
    code = err.get("code")
    return message, kind or "", "" if code is None else str(code)


def classify_failure(
    endpoint: Endpoint,
    *,
    status: int | None,
    message: str,
    err_type: str = "",
    code: str = "",
    headers: Mapping[str, str] | None = None,
) -> RetryableError | ProviderError:
    """Map an HTTP status or an in-stream error object to what the user should do next."""
    ep = endpoint
    msg = snippet(ep.scrub(message)) or "no error message"
    http = f"HTTP {status}" if status is not None else "in-stream error"
    tags = f"{err_type} {code}".lower()
    retry_after = parse_retry_after(headers) if headers is not None else None

    if status == 529 or "overloaded" in tags:
        return RetryableError(
            f"{ep.label} is overloaded ({http}): {msg}", kind="overloaded", status=status,
            reason=f"{ep.label} overloaded ({http})", retry_after=retry_after,
        )
    if status == 429:
        if "insufficient_quota" in tags:
            return ProviderError(
                f"{ep.label} refused the request, quota exhausted (HTTP 429): {msg}", kind="rate_limit", status=429
            )
        return RetryableError(
            f"{ep.label} rate-limited the request (HTTP 429): {msg}", kind="rate_limit", status=429,
            reason="rate limited (HTTP 429)", retry_after=retry_after,
        )
    if status in RETRYABLE_STATUSES:
        return RetryableError(
            f"{ep.label} had a server error ({http}): {msg}", kind="server", status=status,
            reason=f"server error ({http})", retry_after=retry_after,
        )
    if status == 401 or "authentication" in tags or "invalid_api_key" in tags:
        if not ep.api_key:
            text = f"{ep.label} requires an API key ({http}): set {ep.key_env}"
        else:
            text = f"{ep.label} rejected the API key ({http}): check {ep.key_env}"
        return ProviderError(text, kind="auth", status=status)
    if status == 403 or "permission" in tags:
        return ProviderError(
            f"{ep.label} denied permission ({http}): {msg}: check that the key in {ep.key_env} "
            f"may use model '{ep.model}'", kind="permission", status=status,
        )
    if status == 404 or "not_found" in tags:
        return ProviderError(
            f"unknown model '{ep.model}' at {ep.base_url} ({http}: {msg}): check --model "
            f"(or {ep.base_url_env} if that is not the right server)", kind="not_found", status=status,
        )
    if status == 413 or "context_length_exceeded" in tags or _context_too_long().search(message):
        return ProviderError(
            f"the conversation is too long for model '{ep.model}' ({http}): {msg}",
            kind="context_length", status=status,
        )
    if status is not None and 300 <= status < 400:
        where = (headers or {}).get("location", "elsewhere")
        return ProviderError(
            f"{ep.base_url} redirected the request to {where} (HTTP {status}): check {ep.base_url_env}",
            kind="config", status=status,
        )
    if status is not None and 400 <= status < 500:
        return ProviderError(f"{ep.label} rejected the request ({http}): {msg}", kind="bad_request", status=status)
    return ProviderError(f"{ep.label} returned an error ({http}): {msg}", kind="server", status=status)


# What resending cannot fix, however it is sent: the key, the quota, the model, the size.
_NOT_ABOUT_STREAMING = frozenset({"auth", "permission", "rate_limit", "not_found", "context_length", "config"})


def refuses_streaming(exc: RetryableError | ProviderError, endpoint: Endpoint) -> bool:
    """The server answered an HTTP error that says it cannot stream (this request, or with
    tools): llama-cpp-python's `chatml-function-calling` answers 500 "Automatic streaming tool
    choice is not supported"; others answer 400 naming `stream` or `stream_options`. Such a
    request is worth sending once more without streaming; an error about the key, the quota or
    the size never is, whatever it mentions."""
    if exc.status is None or not 400 <= exc.status < 600 or exc.status in (401, 403, 404, 413, 429):
        return False
    if exc.kind in _NOT_ABOUT_STREAMING:
        return False
    said = str(exc).replace(endpoint.label, "").replace(endpoint.base_url, "")  # a host may be named "stream…"
    return re.search(r"\bstream", said, re.IGNORECASE) is not None


def rejects_format(exc: RetryableError | ProviderError, endpoint: Endpoint) -> bool:
    """The server answered an HTTP error that names `response_format` or its schema: it cannot
    constrain a reply (providers/structured.py), so the request is worth sending the OpenAI way."""
    if exc.status not in (400, 422, 500, 501) or exc.kind in _NOT_ABOUT_STREAMING:
        return False
    said = str(exc).replace(endpoint.label, "").replace(endpoint.base_url, "")
    return re.search(r"response_format|json_object|json.?schema|grammar", said, re.IGNORECASE) is not None


def transport_failure(exc: Exception, endpoint: Endpoint) -> RetryableError | ProviderError:
    """Faults of the wire are retried; a URL or proxy that can never work is not."""
    import httpx

    reason = endpoint.scrub(str(exc)) or type(exc).__name__
    base = endpoint.base_url
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return RetryableError(f"cannot reach {base}: {reason}", kind="transport", reason=f"cannot connect: {reason}")
    if isinstance(exc, httpx.ReadTimeout):
        return RetryableError(
            f"timed out waiting for {base}: {reason}", kind="transport", reason="read timeout"
        )
    if isinstance(exc, (httpx.WriteTimeout, httpx.PoolTimeout, httpx.ReadError, httpx.WriteError,
                        httpx.RemoteProtocolError)):
        return RetryableError(
            f"connection to {base} failed: {reason}", kind="transport", reason=f"connection lost: {reason}"
        )
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return ProviderError(f"bad base URL {base!r}: {reason}: check {endpoint.base_url_env}", kind="config")
    return ProviderError(f"cannot talk to {base}: {reason}", kind="transport")

"""The one streaming contract every provider codec implements.

A codec turns a `ModelRequest` into its wire dialect, streams the reply, and yields
`TextChunk`/`ThinkingChunk` as they arrive (for live display), `Retrying` when a
transport fault forces it to resend the request (consumers drop the partial reply),
`UsageReport` whenever the server states what the attempt has used so far (so an attempt
that is cut, resent or interrupted is still counted: it was billed), and exactly one
`Completed` with the whole assistant `Message` at the end. Failures
that retrying cannot fix raise `ProviderError` with a one-line, actionable message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ketch.conversation import Message, ModelRequest, Usage
from ketch.errors import KetchError


@dataclass
class TextChunk:
    text: str


@dataclass
class ThinkingChunk:
    text: str


@dataclass
class Retrying:
    """The request is being sent again; whatever streamed so far is void."""

    attempt: int
    delay_s: float
    reason: str


@dataclass
class UsageReport:
    """The running usage of the attempt in flight, as the server has reported it so far.

    A later report of the same attempt replaces an earlier one; `Completed.usage` replaces
    them all. What the consumer holds when an attempt ends any other way is what was billed.
    """

    usage: Usage


@dataclass
class Completed:
    message: Message
    usage: Usage
    stop_reason: str
    model: str = ""
    message_id: str = ""


StreamEvent = TextChunk | ThinkingChunk | Retrying | UsageReport | Completed

ErrorKind = Literal[
    "auth", "permission", "not_found", "context_length", "bad_request", "rate_limit",
    "overloaded", "server", "transport", "malformed", "config",
]


class ProviderError(KetchError):
    """A model call that failed for good; `str()` is the one-line message for the user."""

    def __init__(self, message: str, *, kind: ErrorKind, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass
class ProviderConfig:
    """Where and how to reach a provider. `api_key` never leaves the ketch process."""

    api_key: str | None
    base_url: str
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_retries: int = 4
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    # A small model on the user's own server: ask for one grammar-constrained JSON reply, as the
    # embedded model gives, instead of tool calls (providers/structured.py). Set by the small profile.
    structured_replies: bool = False


class Provider(Protocol):
    name: str

    def stream(self, request: ModelRequest) -> Iterator[StreamEvent]:
        ...

    def abort(self) -> None:
        """Cut the reply being streamed, called from another thread (the REPL's Esc / Ctrl-C).

        The consumer notices its cancel flag only when the next item arrives; a model that
        stalls mid-reply would keep the person waiting until the read timeout. After an
        abort the blocked `stream` ends soon, by raising `ProviderError` or by yielding again.
        """
        ...

    def close(self) -> None:
        ...

"""The one thing every way of reaching an MCP server does: carry JSON-RPC messages both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Message = dict[str, Any]


class Transport(Protocol):
    """A connection to one server.

    `open` starts delivering every message the server sends (responses, notifications, its
    own requests) to `deliver`, from a thread of the transport's (and what was not a message,
    such as a line that is not JSON: the connection drops and counts it); `closed(reason)` is called
    once when the connection ends for any reason other than `close()`. `send` may block
    while the message is written (HTTP: until the response's stream has been read) and
    raises McpError when it cannot be sent. `close` is idempotent and ends any process.
    """

    def open(self, deliver: Callable[[Any], None], closed: Callable[[str], None]) -> None:
        ...

    def send(self, message: Message) -> None:
        ...

    def close(self) -> None:
        ...

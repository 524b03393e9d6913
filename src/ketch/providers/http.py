"""What the HTTP providers share about their connections: cutting a stream from another thread.

`Provider.abort()` of the HTTP codecs. The loop notices `Agent.cancel` only when the next
stream item arrives; a model that stalls mid-reply would keep the user waiting until the read
timeout. Shutting the connection's socket down makes the blocked read return at once (a plain
close() does not wake a read blocked in another thread on Linux); the codec then raises, and
the loop, seeing the cancel flag, ends the turn as interrupted. httpx offers no public way to
reach the socket, so this walks its pool's private attributes, and gives up quietly (the read
timeout still applies) on a version whose internals differ.
"""

from __future__ import annotations

import socket
from typing import Any


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

"""`@server:uri` mentions: an MCP server's resource read and attached to the prompt, as Claude Code does.

A mention names a configured server (`@github:repo://issues/12`); anything else is left to the
file mentions (mentions.py). The resource's text goes to the model inside a `<resource>` block,
cut at the same size as an attached file. Completion offers the resources the connected servers
list, fetched in a background thread so typing never waits on a server.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ketch.ui.mentions import MAX_ATTACH_BYTES, MENTION

if TYPE_CHECKING:
    from ketch.ext.mcp.client import McpClient
    from ketch.ext.mcp.manager import McpManager

READ_TIMEOUT_S = 30.0
LIST_TIMEOUT_S = 10.0
LIST_TTL_S = 30.0
MAX_LISTED = 500  # per server, for completion
_RESOURCE = re.compile(r"([A-Za-z0-9_.-]+):(\S+)")


def resource_mentions(text: str, servers: set[str]) -> list[tuple[str, str]]:
    """(server, uri) of each `@server:uri` in `text` whose server is one of `servers`, once each."""
    found: list[tuple[str, str]] = []
    for match in MENTION.finditer(text):
        ref = _RESOURCE.fullmatch(match.group(1).rstrip(",.;!?)"))
        if ref is not None and ref.group(1) in servers and (ref.group(1), ref.group(2)) not in found:
            found.append((ref.group(1), ref.group(2)))
    return found


def attach_resources(text: str, manager: McpManager,
                     timeout_s: float = READ_TIMEOUT_S) -> tuple[str, list[str], list[str]]:
    """The message with each mentioned resource appended; the mentions attached; what could not be read."""
    from ketch.errors import McpError

    blocks, attached, problems = [], [], []
    for server, uri in resource_mentions(text, set(manager.servers)):
        client = manager.connected_client(server)
        if client is None:
            problems.append(f"@{server}:{uri} not attached: MCP server {server!r} is not connected (/mcp)")
            continue
        try:
            body = client.read_resource(uri, timeout_s)
        except McpError as exc:
            problems.append(f"@{server}:{uri} not attached: {exc}")
            continue
        if len(body) > MAX_ATTACH_BYTES:
            body = body[:MAX_ATTACH_BYTES] + f"\n[... cut: the resource has {len(body)} characters]"
        blocks.append(f'<resource server="{server}" uri="{uri}">\n{body}\n</resource>')
        attached.append(f"@{server}:{uri}")
    if not blocks:
        return text, [], problems
    return text + "\n\n" + "\n\n".join(blocks), attached, problems


class ResourceIndex:
    """`server:uri` and name of what the connected servers list, for completion; never blocks."""

    def __init__(self, manager: Callable[[], McpManager | None], ttl_s: float = LIST_TTL_S) -> None:
        self._manager = manager
        self.ttl_s = ttl_s
        self._items: list[tuple[str, str]] = []
        self._key: tuple[int, ...] = ()
        self._at = -1e9
        self._busy = threading.Lock()

    def mentions(self) -> list[tuple[str, str]]:
        """What is known now; a listing starts in the background when it is stale or the servers changed."""
        manager = self._manager()
        if manager is None:
            return []
        clients = [(name, c) for name in list(manager.servers) if (c := manager.connected_client(name)) is not None]
        key = tuple(id(c) for _, c in clients)
        if (key != self._key or time.monotonic() - self._at > self.ttl_s) and self._busy.acquire(blocking=False):
            self._key, self._at = key, time.monotonic()
            threading.Thread(target=self._list, args=(clients,), daemon=True, name="mcp-resources").start()
        return self._items

    def _list(self, clients: list[tuple[str, McpClient]]) -> None:
        from ketch.errors import McpError

        items: list[tuple[str, str]] = []
        try:
            for name, client in clients:
                try:
                    listed = client.list_resources(LIST_TIMEOUT_S)
                except McpError:
                    continue
                for resource in listed[:MAX_LISTED]:
                    uri = resource.get("uri")
                    if isinstance(uri, str) and uri and not any(ch.isspace() for ch in uri):
                        items.append((f"{name}:{uri}", str(resource.get("name") or "")[:80]))
            self._items = items
        finally:
            self._busy.release()

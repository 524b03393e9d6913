"""One server's MCP session: the handshake, its tools, resources and prompts, and calls to them.

What the server says is untrusted: names and schemas are checked before they become tools,
lists are capped, and results are turned into bounded text here (the loop trims further).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketch.errors import McpError
from ketch.ext.mcp.jsonrpc import Connection, Progress, RequestHandler
from ketch.ext.mcp.transport import Transport

PROTOCOL_VERSION = "2025-06-18"
SUPPORTED_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")
MAX_TOOLS = 1000  # per server; beyond that the listing is cut and the person told
MAX_PAGES = 100
MAX_RESULT_CHARS = 1_000_000  # the loop trims and spills what is longer than the model should see
_TOOL_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool = False  # the server's readOnlyHint: a claim, trusted only as far as manager says


@dataclass(frozen=True)
class PromptInfo:
    name: str
    description: str
    arguments: tuple[tuple[str, bool], ...] = ()  # (name, required)


@dataclass
class CallResult:
    text: str
    is_error: bool = False


@dataclass
class Handlers:
    """What ketch answers when the server asks: the roots, and elicitation (None: refused)."""

    roots: list[Path] = field(default_factory=list)
    elicit: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None


class McpClient:
    """A connected server. `on_tools_changed` is called (from a reader thread) after a
    `notifications/tools/list_changed` has been followed by a fresh listing."""

    def __init__(self, transport: Transport, handlers: Handlers | None = None,
                 on_tools_changed: Callable[[], None] = lambda: None) -> None:
        self.handlers = handlers or Handlers()
        answers: dict[str, RequestHandler] = {"roots/list": self._roots}
        answers["elicitation/create"] = self._elicit
        self.connection = Connection(transport, handlers=answers, on_notification=self._notified)
        self.on_tools_changed = on_tools_changed
        self.server_name = ""
        self.instructions = ""
        self.capabilities: dict[str, Any] = {}
        self.protocol_version = PROTOCOL_VERSION
        self.tools: list[ToolInfo] = []
        self.skipped_tools: list[str] = []  # names the server offered that cannot be tools
        self._refresh_lock = threading.Lock()
        self._refreshing = False  # one re-listing at a time, however many list_changed arrive
        self._refresh_again = False

    def connect(self, timeout_s: float) -> None:
        """Open, initialize, and list the tools; McpError (with the server's reason) when it cannot."""
        try:
            self.connection.open()
        except OSError as exc:
            raise McpError(f"could not start: {exc.strerror or exc}") from None
        result = self.connection.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {"roots": {"listChanged": False}, **({"elicitation": {}} if self.handlers.elicit else {})},
            "clientInfo": {"name": "ketch", "version": _version()},
        }, timeout_s=timeout_s)
        version = result.get("protocolVersion")
        if version not in SUPPORTED_VERSIONS:
            raise McpError(f"speaks MCP protocol version {str(version)[:40]!r}, which ketch does not")
        self.protocol_version = str(version)
        setter = getattr(self.connection.transport, "set_protocol_version", None)
        if callable(setter):
            setter(self.protocol_version)
        caps = result.get("capabilities")
        self.capabilities = caps if isinstance(caps, dict) else {}
        info = result.get("serverInfo")
        self.server_name = str(info.get("name", ""))[:100] if isinstance(info, dict) else ""
        self.instructions = str(result.get("instructions") or "")[:4000]
        self.connection.notify("notifications/initialized")
        if "tools" in self.capabilities:
            self.tools = self.list_tools(timeout_s)

    def close(self) -> None:
        self.connection.close()

    # -- tools -----------------------------------------------------------------------------

    def list_tools(self, timeout_s: float) -> list[ToolInfo]:
        tools: list[ToolInfo] = []
        self.skipped_tools = []
        for item in self._paged("tools/list", "tools", timeout_s):
            tool = _tool_info(item)
            if tool is None:
                self.skipped_tools.append(str(item.get("name", "?"))[:80] if isinstance(item, dict) else "?")
            elif len(tools) < MAX_TOOLS:
                tools.append(tool)
        return tools

    def call_tool(self, name: str, arguments: dict[str, Any], *, timeout_s: float,
                  cancel: threading.Event | None = None, progress: Progress | None = None) -> CallResult:
        result = self.connection.request("tools/call", {"name": name, "arguments": arguments},
                                         timeout_s=timeout_s, cancel=cancel, progress=progress)
        return CallResult(render_content(result), bool(result.get("isError")))

    # -- resources and prompts -------------------------------------------------------------

    def list_resources(self, timeout_s: float) -> list[dict[str, Any]]:
        if "resources" not in self.capabilities:
            return []
        return [r for r in self._paged("resources/list", "resources", timeout_s) if isinstance(r, dict)]

    def read_resource(self, uri: str, timeout_s: float) -> str:
        result = self.connection.request("resources/read", {"uri": uri}, timeout_s=timeout_s)
        return render_content({"content": result.get("contents", [])})

    def list_prompts(self, timeout_s: float) -> list[PromptInfo]:
        if "prompts" not in self.capabilities:
            return []
        prompts = []
        for item in self._paged("prompts/list", "prompts", timeout_s):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                args = tuple((str(a.get("name")), bool(a.get("required"))) for a in item.get("arguments") or []
                             if isinstance(a, dict) and isinstance(a.get("name"), str))
                prompts.append(PromptInfo(item["name"], str(item.get("description") or "")[:500], args))
        return prompts

    def get_prompt(self, name: str, arguments: dict[str, str], timeout_s: float) -> str:
        result = self.connection.request("prompts/get", {"name": name, "arguments": arguments}, timeout_s=timeout_s)
        parts = []
        for message in result.get("messages") or []:
            if isinstance(message, dict):
                parts.append(render_content({"content": [message.get("content")]}))
        return "\n\n".join(p for p in parts if p)

    # -- plumbing --------------------------------------------------------------------------

    def _paged(self, method: str, key: str, timeout_s: float) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            result = self.connection.request(method, {"cursor": cursor} if cursor else {}, timeout_s=timeout_s)
            page = result.get(key)
            if not isinstance(page, list):
                raise McpError(f"{method} answered without a list of {key}")
            items += page
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or len(items) >= MAX_TOOLS * 2:
                break
        return items

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        if method == "notifications/tools/list_changed":
            with self._refresh_lock:  # a flood must not become a thread (and a 30 s wait) each
                if self._refreshing:
                    self._refresh_again = True
                    return
                self._refreshing = True
            threading.Thread(target=self._refresh_tools, daemon=True, name="mcp-list-changed").start()

    def _refresh_tools(self) -> None:
        while True:
            try:
                self.tools = self.list_tools(30.0)
            except McpError:
                pass
            else:
                self.on_tools_changed()
            with self._refresh_lock:
                if not self._refresh_again or self.connection.closed_reason is not None:
                    self._refreshing = self._refresh_again = False
                    return
                self._refresh_again = False

    def _roots(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"roots": [{"uri": root.as_uri(), "name": root.name or str(root)} for root in self.handlers.roots]}

    def _elicit(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.handlers.elicit is None:
            return {"action": "decline"}
        schema = params.get("requestedSchema")
        return self.handlers.elicit(str(params.get("message") or "")[:2000], schema if isinstance(schema, dict) else {})


def _tool_info(item: Any) -> ToolInfo | None:
    """A tool ketch can offer the model, or None: a name that cannot be part of `mcp__s__t`, no schema."""
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    schema = item.get("inputSchema")
    if not isinstance(name, str) or not name or len(name) > 128 or not set(name) <= _TOOL_NAME_OK:
        return None
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    annotations = item.get("annotations")
    read_only = isinstance(annotations, dict) and annotations.get("readOnlyHint") is True
    description = item.get("description")
    return ToolInfo(name, description[:2000] if isinstance(description, str) else "", schema, read_only)


def render_content(result: dict[str, Any]) -> str:
    """A result's content blocks as text the model can read; what is not text is described."""
    parts: list[str] = []
    content = result.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if isinstance(block.get("text"), str) and kind in ("text", None):
            parts.append(block["text"])
        elif kind in ("image", "audio"):
            size = len(str(block.get("data", ""))) * 3 // 4
            parts.append(f"[{kind}: {str(block.get('mimeType', '?'))[:60]}, {size} bytes]")
        elif kind == "resource" and isinstance(block.get("resource"), dict):
            inner = block["resource"]
            parts.append(inner["text"] if isinstance(inner.get("text"), str)
                         else f"[resource {str(inner.get('uri', ''))[:200]}: binary]")
        elif kind == "resource_link":
            parts.append(f"[resource {str(block.get('uri', ''))[:200]} {str(block.get('name', ''))[:100]}]".strip())
        elif isinstance(block.get("text"), str):  # resources/read contents: {uri, mimeType, text}
            parts.append(block["text"])
        elif isinstance(block.get("blob"), str):
            parts.append(f"[binary {str(block.get('uri', ''))[:200]}, {len(block['blob']) * 3 // 4} bytes]")
    structured = result.get("structuredContent")
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    text = "\n".join(parts)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[... cut: the server sent {len(text)} characters]"
    return text


def _version() -> str:
    from ketch import __version__

    return __version__

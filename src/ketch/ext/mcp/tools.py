"""An MCP server's tools as ketch tools (`mcp__server__tool`), and ToolSearch for deferred schemas.

The permission gate sees an McpTool like any other tool: kind "execute" (asks unless a rule
allows it), or "read" when the server says readOnlyHint and the person configured that
server themselves (a project's `.mcp.json` does not get its servers' claims believed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ketch.conversation import ToolDef
from ketch.errors import McpError
from ketch.ext.mcp.client import CallResult, ToolInfo
from ketch.tools.base import ToolContext, ToolKind, ToolResult

MAX_NAME = 64  # the providers' limit on a tool's name
CALL_TIMEOUT_S = 600.0
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")

Caller = Callable[..., CallResult]


def tool_name(server: str, tool: str) -> str:
    """`mcp__server__tool`, in the characters and length every provider accepts."""
    return _NOT_NAME.sub("_", f"mcp__{server}__{tool}")[:MAX_NAME]


class McpTool:
    """One tool of one server. `call(name, arguments, timeout_s=, cancel=, progress=)` reaches it."""

    def __init__(self, server: str, info: ToolInfo, call: Caller, kind: ToolKind) -> None:
        self.server = server
        self.info = info
        self.name = tool_name(server, info.name)
        self.kind: ToolKind = kind
        self._call = call
        self._definition = ToolDef(name=self.name, description=info.description or f"{info.name} (MCP server {server})",
                                   input_schema=info.input_schema)

    def definition(self) -> ToolDef:
        return self._definition

    def summary(self) -> str:
        """The name and the description's first line: what a deferred tool costs in a request."""
        first = (self.info.description.strip().splitlines() or [""])[0]
        return f"{self.name}: {first[:160]}"

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            result = self._call(self.info.name, input, timeout_s=CALL_TIMEOUT_S, cancel=ctx.cancel)
        except McpError as exc:
            raise McpError(f"MCP server {self.server!r}: {exc}") from None
        return ToolResult(result.text if result.text.strip() else "(the tool returned nothing)", result.is_error)


def definition_tokens(tool: McpTool) -> int:
    """About how many tokens the tool's definition costs in every request (4 characters a token)."""
    d = tool.definition()
    return (len(d.name) + len(d.description) + len(json.dumps(d.input_schema))) // 4 + 8


class ToolSearch:
    """Loads the full schema of deferred MCP tools the model asks for; they are offered from then on.

    Used only when the MCP tools' schemas would pass their share of the context window:
    the model then sees this tool, whose description names each deferred tool with one
    line, instead of every schema.
    """

    name = "ToolSearch"
    kind: ToolKind = "other"

    def __init__(self, deferred: Callable[[], list[McpTool]], load: Callable[[list[str]], None]) -> None:
        self._deferred = deferred
        self._load = load

    def definition(self) -> ToolDef:
        lines = catalog(self._deferred())
        return ToolDef(
            name=self.name,
            description=(
                "Load MCP tools before calling them. These tools exist but their parameters are not shown yet; "
                "call ToolSearch with query \"select:NAME1,NAME2\" to load exact tools, or with keywords to load "
                "the best matches (up to 5). Loaded tools can be called from your next reply on.\n\n" + lines),
            input_schema={"type": "object", "properties": {
                "query": {"type": "string", "description": "\"select:name1,name2\" or keywords"},
                "max_results": {"type": "integer", "description": "how many tools to load for a keyword query (default 5)"},
            }, "required": ["query"]},
        )

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        query = str(input.get("query", "")).strip()
        deferred = self._deferred()
        if query.startswith("select:"):
            wanted = {n.strip() for n in query[len("select:"):].split(",") if n.strip()}
            picked = [t for t in deferred if t.name in wanted]
            missing = sorted(wanted - {t.name for t in picked})
        else:
            limit = input.get("max_results", 5)
            limit = limit if isinstance(limit, int) and 0 < limit <= 20 else 5
            picked = _rank(query, deferred)[:limit]
            missing = []
        if not picked:
            return ToolResult(f"no deferred tool matches {query!r}; the deferred tools are listed in my description",
                              is_error=True)
        self._load([t.name for t in picked])
        body = "\n\n".join(f"{t.name}\n{t.definition().description}\nparameters: "
                           f"{json.dumps(t.definition().input_schema, ensure_ascii=False)}" for t in picked)
        note = f"\n\nnot found: {', '.join(missing)}" if missing else ""
        return ToolResult(f"Loaded {len(picked)} tool(s); call them in your next reply.\n\n{body}{note}")


CATALOG_CHARS = 5000  # what listing the deferred tools may add to every request, however many there are


def catalog(tools: list[McpTool], limit: int = CATALOG_CHARS) -> str:
    """The deferred tools as the model sees them before loading any: a line each with its description
    while that fits, else names only, else each server's count and as many names as fit."""
    lines = "\n".join(t.summary() for t in tools)
    if len(lines) <= limit:
        return lines
    names = ", ".join(t.name for t in tools)
    if len(names) <= limit:
        return names
    by_server: dict[str, list[str]] = {}
    for tool in tools:
        by_server.setdefault(tool.server, []).append(tool.name)
    share = max(200, limit // max(1, len(by_server)))
    out = []
    for server, server_names in by_server.items():
        shown = ", ".join(server_names)
        if len(shown) > share:
            shown = shown[:share].rsplit(", ", 1)[0] + ", … (search by keyword for the rest)"
        out.append(f"server {server} ({len(server_names)} tools): {shown}")
    return "\n".join(out)[: limit + 400]


def _rank(query: str, tools: list[McpTool]) -> list[McpTool]:
    words = [w for w in re.split(r"[^a-z0-9]+", query.lower()) if w]

    def score(tool: McpTool) -> int:
        name = tool.name.lower()
        text = tool.info.description.lower()
        return sum(3 * (w in name) + (w in text) for w in words)

    scored = [(score(t), t) for t in tools]
    return [t for s, t in sorted(scored, key=lambda pair: -pair[0]) if s > 0]

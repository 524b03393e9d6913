"""MCP server entries, in Claude Code's shape, from every place a person or project puts them.

Scopes, in Claude Code's words: `project` (the folder's `.mcp.json`, the file Claude Code
reads; only in a trusted folder and after the person approved that exact entry), `user`
(`mcpServers` in $KETCH_HOME/settings.json), `local` (`mcpServers` in the folder's remembered
settings under $KETCH_HOME/projects/), and `cli` (`--mcp-config FILE|JSON`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["project", "user", "local", "cli"]
TransportKind = Literal["stdio", "http", "sse"]


@dataclass(frozen=True)
class ServerConfig:
    """One server, `${VAR}` and `${VAR:-default}` already expanded.

    stdio: `command`, `args`, `env` (the only variables the server gets beyond a plain
    PATH/HOME/LANG: never ketch's credentials), `cwd`. http/sse: `url`, `headers`.
    `sandbox`: False only when the person wrote `"sandbox": false` for this server (a
    project's `.mcp.json` cannot say it); `allowed_hosts`: where a sandboxed stdio server may
    connect (the `"network"` list of its entry; a package runner adds its registry).
    """

    name: str
    transport: TransportKind
    scope: Scope
    source: str  # the file (or "--mcp-config") it came from, for `ketch mcp get` and notices
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    url: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    sandbox: bool = True
    allowed_hosts: tuple[str, ...] = ()
    timeout_s: float = 30.0  # initialize and list; a tool call has its own
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def describe(self) -> str:
        """What it runs or reaches, one line, for approval questions and listings."""
        if self.transport == "stdio":
            import shlex

            return shlex.join([self.command, *self.args])
        return f"{self.transport} {self.url}"

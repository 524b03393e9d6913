"""Every configured MCP server: started concurrently in the background, offered to the loop as tools.

Nothing waits for a server: the prompt and the first request go ahead, a server's tools join
the request after it is ready, and until then (or when it failed) the system prompt says so
in one line; a call to a tool of a server still starting waits for that server. When the
servers' schemas would pass their share of the context window (10%, and never more than
MAX_EAGER_TOKENS), the model gets ToolSearch and a bounded catalog of the tools instead, and
a tool's schema is sent only once the model loaded it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ketch.errors import KetchError
from ketch.ext.mcp.client import CallResult, Handlers, McpClient
from ketch.ext.mcp.config import ServerConfig
from ketch.ext.mcp.stdio import ServerProcess, StdioTransport
from ketch.ext.mcp.tools import McpTool, ToolSearch, definition_tokens, tool_name
from ketch.ext.mcp.transport import Transport
from ketch.tools.base import Tool, ToolKind

DEFAULT_BUDGET_SHARE = 0.10
# However large the window, MCP schemas sent in full may add no more than this to a request: with
# ketch's own ~12 kB, the request stays within DESIGN.md §6's 20 kB whatever servers are installed.
MAX_EAGER_TOKENS = 2000


@dataclass
class ServerStatus:
    name: str
    scope: str
    transport: str
    state: str  # "starting" | "connected" | "failed" | "needs authentication" | "needs approval" | "disabled"
    detail: str = ""
    tools: int = 0
    tokens: int = 0
    sandboxed: bool = True


class _Server:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.state = "starting"
        self.detail = ""
        self.client: McpClient | None = None
        self.tools: list[McpTool] = []
        self.sandbox: Any = None  # the server's own Sandbox, closed with it
        self.thread: threading.Thread | None = None  # the one connecting it
        self.generation = 0  # counts stops: a connection finished after one is closed at once

    def live(self) -> bool:
        if self.state == "connected" and self.client is not None and self.client.connection.closed_reason:
            self.state, self.detail = "failed", f"stopped: {self.client.connection.closed_reason}"
        return self.state == "connected"


class McpManager:
    """A ToolSource (tools.base) over the servers. `notify(line)` tells the person about a server
    that failed or stopped, once; `sandbox_args` are the commands' SandboxPolicy fields (None:
    the person ran with `--sandbox off`, so servers are not sandboxed either)."""

    def __init__(self, servers: list[ServerConfig], *, workspace: Path, sandbox_args: dict[str, Any] | None,
                 context_window: int = 200_000, budget_share: float = DEFAULT_BUDGET_SHARE,
                 handlers: Handlers | None = None, notify: Callable[[str], None] = lambda line: None) -> None:
        self.workspace = workspace
        self.sandbox_args = sandbox_args
        self.budget_tokens = min(int(context_window * budget_share), MAX_EAGER_TOKENS)
        self.handlers = handlers or Handlers(roots=[workspace])
        self.notify = notify
        self.servers = {s.name: _Server(s) for s in servers}
        self.started = False
        self.pending: list[ServerConfig] = []  # a project's servers waiting for the person's approval (REPL)
        self.loaded: set[str] = set()  # deferred tools the model loaded with ToolSearch
        self.search = ToolSearch(self._deferred, self.loaded.update)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every server in a thread of its own; returns at once. Once: later calls do nothing."""
        if self.started:
            return
        self.started = True
        for server in list(self.servers.values()):
            if server.thread is None:  # never two connections for one server
                self._launch(server)

    def _launch(self, server: _Server) -> None:
        server.thread = threading.Thread(target=self._connect, args=(server,), daemon=True,
                                         name=f"mcp-{server.config.name}")
        server.thread.start()

    def wait(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s` in all) until every server connected or failed."""
        import time

        deadline = time.monotonic() + timeout_s
        for server in list(self.servers.values()):
            if server.thread is not None:
                server.thread.join(max(0.0, deadline - time.monotonic()))

    def reconnect(self, name: str) -> None:
        server = self.servers[name]
        self._stop(server)
        server.state, server.detail = "starting", ""
        self._launch(server)

    def disable(self, name: str) -> None:
        server = self.servers[name]
        self._stop(server)
        server.state, server.detail = "disabled", "for this session"

    def close(self) -> None:
        for server in self.servers.values():
            self._stop(server)

    # -- ToolSource ------------------------------------------------------------------------

    def offered(self) -> list[Tool]:
        tools = self._live_tools()
        if sum(definition_tokens(t) for t in tools) <= self.budget_tokens:
            return list(tools)
        return [self.search, *(t for t in tools if t.name in self.loaded)]

    def find(self, name: str) -> Tool | None:
        """The tool `name` names; a call to a server still starting waits for it (up to its timeout),
        so the model may call a tool that was not ready when its request was sent."""
        if name == ToolSearch.name:
            self._wait_for(lambda server: True)  # it searches every server's tools
            return self.search if self.offered()[:1] == [self.search] else None
        found = next((t for t in self._live_tools() if t.name == name), None)
        if found is None and name.startswith("mcp__"):
            self._wait_for(lambda server: name.startswith(tool_name(server.config.name, "")))
            found = next((t for t in self._live_tools() if t.name == name), None)
        return found

    def _wait_for(self, which: Callable[[_Server], bool]) -> None:
        for server in list(self.servers.values()):
            if server.state == "starting" and server.thread is not None and which(server):
                server.thread.join(server.config.timeout_s)

    def status(self) -> str:
        waiting = []
        for server in self.servers.values():
            if server.live() or server.state == "disabled":
                continue
            why = "still starting" if server.state == "starting" else server.detail or server.state
            waiting.append(f"{server.config.name} ({why[:200]})")
        return "MCP servers not available now: " + "; ".join(waiting) if waiting else ""

    def server_states(self) -> list[dict[str, str]]:
        """As Claude Code's init message lists them: "connected", "pending" (starting or not yet
        approved), "failed", "disabled"."""
        names = {"starting": "pending", "needs approval": "pending"}
        listed = [{"name": s.name, "status": names.get(s.state, s.state)} for s in self.statuses()]
        return listed + [{"name": c.name, "status": "pending"} for c in self.pending]

    def statuses(self) -> list[ServerStatus]:
        out = []
        for server in self.servers.values():
            server.live()
            config = server.config
            out.append(ServerStatus(config.name, config.scope, config.transport, server.state, server.detail,
                                    len(server.tools), sum(definition_tokens(t) for t in server.tools),
                                    config.sandbox and self.sandbox_args is not None))
        return out

    # -- inside ----------------------------------------------------------------------------

    def _live_tools(self) -> list[McpTool]:
        return [t for s in list(self.servers.values()) if s.live() for t in s.tools]

    def _deferred(self) -> list[McpTool]:
        return [t for t in self._live_tools() if t.name not in self.loaded]

    def _connect(self, server: _Server) -> None:
        config = server.config
        generation = server.generation  # stopped or restarted meanwhile: this attempt's result is dropped
        client = transport = None
        try:
            transport = self._transport(server)
            client = McpClient(transport, self.handlers, on_tools_changed=lambda: self._rebuild(server))
            server.client = client
            client.connect(config.timeout_s)
        except KetchError as exc:  # McpError, SandboxUnavailable, a bad URL
            if client is not None:
                client.close()
            if server.state != "starting" or server.generation != generation:
                return
            if getattr(transport, "auth_required", False):
                server.state = "needs authentication"  # no tokens, or refreshing them was refused
                server.detail = f"run `ketch mcp auth {config.name}` (or /mcp auth {config.name} in the REPL)"
                self.notify(f"MCP server {config.name!r} needs authentication: {server.detail}")
            else:
                server.state, server.detail = "failed", _one_line(str(exc), client) + self._tmp_hint(server)
                self.notify(f"MCP server {config.name!r} failed to start: {server.detail}")
            return
        if server.state != "starting" or server.generation != generation:  # stopped while it connected
            client.close()
            return
        self._rebuild(server)
        server.state = "connected"

    def _tmp_hint(self, server: _Server) -> str:
        """Why a sandboxed server may not find its program: the sandbox's /tmp is its own."""
        config = server.config
        if config.transport != "stdio" or not config.sandbox or self.sandbox_args is None:
            return ""
        roots = [Path(self.sandbox_args["workspace"]), *self.sandbox_args.get("extra_writable", ())]
        for word in (config.command, *config.args):
            path = Path(word)
            if path.is_absolute() and path.is_relative_to("/tmp") and not any(path.is_relative_to(r) for r in roots):
                return (f" ({word} is under /tmp, which a sandboxed server sees as its own empty folder: move it, "
                        'or give the server "sandbox": false)')
        return ""

    def _rebuild(self, server: _Server) -> None:
        client = server.client
        if client is None:
            return
        believe_read_only = server.config.scope != "project"
        seen: set[str] = set()
        tools = []
        prefix = f"mcp__{server.config.name}__"  # server names hold only characters tool names keep
        for info in client.tools:
            kind: ToolKind = "read" if info.read_only and believe_read_only else "execute"
            tool = McpTool(server.config.name, info, self._caller(server, client), kind)
            # Cut at 64 characters, a long server name leaves no `__tool`: the name would be
            # another server's too (and its rules would cover this one).
            if tool.name.startswith(prefix) and len(tool.name) > len(prefix) and tool.name not in seen:
                seen.add(tool.name)
                tools.append(tool)
        server.tools = tools

    def _caller(self, server: _Server, client: McpClient) -> Callable[..., CallResult]:
        """client.call_tool, then the sandbox's git check of what the server may have written (as
        after every command): a git folder it planted is made harmless before the call's result,
        and with it the person's next git command, comes back."""
        check = getattr(client.connection.transport, "check", None)

        def call(name: str, arguments: dict[str, Any], **kw: Any) -> CallResult:
            try:
                result = client.call_tool(name, arguments, **kw)
            finally:
                notes = check() if callable(check) else []
            if notes:
                result.text = (result.text.rstrip("\n") + "\n" if result.text else "") + "\n".join(notes)
            return result
        return call

    def _transport(self, server: _Server) -> Transport:
        config = server.config
        if config.transport in ("http", "sse"):
            from ketch.ext.mcp.oauth import BearerAuth
            from ketch.ext.mcp.tools import CALL_TIMEOUT_S

            # Tokens from `ketch mcp auth`, unless the entry sends its own Authorization header.
            auth = None if any(k.lower() == "authorization" for k, _ in config.headers) else BearerAuth(config.url)

            if config.transport == "http":
                from ketch.ext.mcp.http import StreamableHttpTransport

                return StreamableHttpTransport(config.url, dict(config.headers), timeout_s=config.timeout_s,
                                               read_timeout_s=CALL_TIMEOUT_S, auth=auth)
            from ketch.ext.mcp.http_sse import SseTransport

            return SseTransport(config.url, dict(config.headers), timeout_s=config.timeout_s,
                                read_timeout_s=CALL_TIMEOUT_S, auth=auth)
        return StdioTransport(lambda: self._start_process(server))

    def _start_process(self, server: _Server) -> ServerProcess:
        config = server.config
        argv = [config.command, *config.args]
        cwd = Path(config.cwd) if config.cwd else self.workspace
        cwd = cwd if cwd.is_absolute() else self.workspace / cwd
        env = dict(config.env)
        if config.sandbox and self.sandbox_args is not None:
            from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy

            args = {**self.sandbox_args, "network": False, "allowed_hosts": config.allowed_hosts}
            server.sandbox = Sandbox(SandboxPolicy(**args))
            return server.sandbox.spawn(argv, cwd=cwd, env=env)  # type: ignore[no-any-return]
        from ketch.security.sandbox.served import spawn_unsandboxed

        return spawn_unsandboxed(argv, cwd=cwd, env=env)

    def _stop(self, server: _Server) -> None:
        server.generation += 1
        client, server.client = server.client, None
        server.tools = []
        if client is not None:
            client.close()
            notes = getattr(client.connection.transport, "notes", [])
            for note in notes:
                self.notify(f"MCP server {server.config.name!r}: {note}")
        if server.sandbox is not None:
            server.sandbox.close()
            server.sandbox = None

    # -- for a front end (the REPL) --------------------------------------------------------

    def add_and_start(self, config: ServerConfig) -> None:
        """Start a server approved during the session (a project's, once the person said yes); before
        start(), it is only added, and start() launches it with the others."""
        if config in self.pending:
            self.pending.remove(config)
        server = self.servers[config.name] = _Server(config)
        if self.started:
            self._launch(server)

    def connected_client(self, name: str) -> McpClient | None:
        """The session of server `name` when it is connected (resources, prompts), else None."""
        server = self.servers.get(name)
        return server.client if server is not None and server.live() else None

    def server_tools(self, name: str) -> list[McpTool]:
        server = self.servers.get(name)
        return list(server.tools) if server is not None else []


def _one_line(text: str, client: McpClient | None) -> str:
    """The reason a server failed, with what it printed when that says more."""
    line = " ".join(text.split())[:300]
    if client is not None and client.connection.dropped and "no answer" in line:
        line += f"; it printed what is not JSON-RPC: {client.connection.last_dropped[:100]}"
    return line


def check_servers(servers: list[ServerConfig], workspace: Path, timeout_s: float) -> list[ServerStatus]:
    """Connect to each server once, concurrently, and say how it went (`ketch mcp list`)."""
    from ketch.config.settings import ketch_home

    args = {"workspace": workspace, "ketch_home": ketch_home(), "home": Path.home()}
    manager = McpManager(servers, workspace=workspace, sandbox_args=args)
    manager.start()
    manager.wait(timeout_s)
    try:
        return manager.statuses()
    finally:
        manager.close()


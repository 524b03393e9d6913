"""`/mcp`: the session's MCP servers, their state, tools and token cost; reconnect or disable one."""

from __future__ import annotations

from typing import Any

from ketch.terminal_text import printable as clean
from ketch.ui.commands.registry import SlashCommand
from ketch.ui.render import human

VERBS = ("reconnect", "disable", "tools", "auth")
USAGE = "/mcp [reconnect|disable|tools|auth NAME]"


def state_text(status: Any) -> str:
    if status.state == "failed":
        return f"failed: {status.detail}" if status.detail else "failed"
    if status.state == "disabled":
        return "disabled" + (f" {status.detail}" if status.detail else "")
    if status.state == "needs authentication":
        return f"needs authentication: /mcp auth {status.name}"
    return str(status.state)


def server_lines(manager: Any, declined: list[Any]) -> list[str]:
    """One line per server: state, scope, transport, sandbox, tools and what they cost."""
    lines = []
    statuses = manager.statuses()
    width = max([len(s.name) for s in statuses] + [len(c.name) for c in [*manager.pending, *declined]] + [8])
    for s in statuses:
        parts = [state_text(s), s.scope, s.transport]
        if s.transport == "stdio":
            parts.append("sandboxed" if s.sandboxed else "NOT sandboxed")
        if s.state == "connected":
            parts.append(f"{s.tools} tool{'s' * (s.tools != 1)} · ~{human(s.tokens)} tokens")
        lines.append(f"  {s.name:<{width}}  " + " · ".join(parts))
    for config in [*manager.pending, *declined]:
        lines.append(f"  {config.name:<{width}}  not approved (ketch asks again next time) · {config.scope} · "
                     f"{config.transport} · {config.describe()}")
    return lines


def _mcp(repl: Any, arg: str) -> None:
    manager = repl.mcp.manager
    verb, _, name = arg.strip().partition(" ")
    name = name.strip()
    if manager is None:
        repl.r.info("no MCP servers in this session (add one: ketch mcp add NAME -- COMMAND ARGS; "
                    "or a .mcp.json in a trusted folder)")
        return
    if not verb:
        for line in server_lines(manager, repl.mcp.declined):
            repl.r.line(line)
        total = sum(s.tokens for s in manager.statuses() if s.state == "connected")
        if total > manager.budget_tokens:
            repl.r.info(f"  ~{human(total)} tokens of schemas is over the budget of {human(manager.budget_tokens)}: "
                        "the model loads tools with ToolSearch")
        repl.r.info(f"  {USAGE} · reconnect also re-enables")
        return
    if verb not in VERBS or not name:
        repl.r.error(f"usage: {USAGE}")
        return
    if name not in manager.servers:
        repl.r.error(f"no MCP server {clean(name)!r} in this session (/mcp lists them)")
        return
    if verb == "reconnect":
        manager.reconnect(name)
        repl.r.info(f"reconnecting {clean(name)} (/mcp shows when it is connected)")
    elif verb == "disable":
        manager.disable(name)
        repl.r.info(f"disabled {clean(name)} for this session (/mcp reconnect {clean(name)} enables it again)")
    elif verb == "auth":
        _auth(repl, manager, name)
    else:
        _tools(repl, manager, name)


def _auth(repl: Any, manager: Any, name: str) -> None:
    """The OAuth flow in the browser (it waits here, up to 5 minutes), then the server reconnects."""
    from ketch.errors import McpError
    from ketch.ext.mcp.oauth import authenticate

    config = manager.servers[name].config
    if config.transport == "stdio":
        repl.r.error(f"{clean(name)} is a stdio server: OAuth is for http and sse servers")
        return
    try:
        authenticate(config.url, transport=config.transport, client_id=config.oauth_client_id,
                     scopes=config.oauth_scopes, say=lambda line: repl.r.info(clean(line)))
    except McpError as exc:
        repl.r.error(f"{clean(name)}: {clean(str(exc))}")
        return
    except KeyboardInterrupt:
        repl.r.info("authorization interrupted")
        return
    manager.reconnect(name)
    repl.r.info(f"authenticated {clean(name)}; reconnecting (/mcp shows when it is connected)")


def _tools(repl: Any, manager: Any, name: str) -> None:
    from ketch.ext.mcp.tools import definition_tokens

    tools = manager.server_tools(name)
    if not tools:
        status = next((s for s in manager.statuses() if s.name == name), None)
        repl.r.info(f"{clean(name)} offers no tools now" + (f" ({state_text(status)})" if status else ""))
        return
    width = max(len(t.name) for t in tools)
    for tool in tools:
        first = (tool.info.description.strip().splitlines() or [""])[0][:60]
        repl.r.line(f"  {tool.name:<{width}}  ~{human(definition_tokens(tool)):>5} tokens  {first}")


def complete(repl: Any, typed: str) -> list[str]:
    """`reconnect NAME`, `disable NAME`, `tools NAME` for the session's servers."""
    manager = repl.mcp.manager
    names = sorted(manager.servers) if manager is not None else []
    return [f"{verb} {name}" for verb in VERBS for name in names]


COMMANDS = [SlashCommand("mcp", "MCP servers: status, tools, token cost; reconnect|disable|tools|auth NAME", _mcp,
                         complete=complete)]

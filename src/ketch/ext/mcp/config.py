"""MCP server entries, in Claude Code's shape, from every place a person or project puts them.

Scopes, in Claude Code's words: `project` (the folder's `.mcp.json`, the file Claude Code
reads; only in a trusted folder and after the person approved that exact entry), `user`
(`mcpServers` in $KETCH_HOME/settings.json), `local` (`mcpServers` in the folder's remembered
settings under $KETCH_HOME/projects/), and `cli` (`--mcp-config FILE|JSON`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ketch.errors import ConfigError
from ketch.ext.mcp.approvals import ProjectSwitches, approve_server, is_approved

__all__ = ["Scope", "ServerConfig", "ServerSet", "TransportKind", "approve_server", "is_approved", "load_servers"]

Scope = Literal["project", "user", "local", "cli"]
TransportKind = Literal["stdio", "http", "sse"]


@dataclass(frozen=True)
class ServerConfig:
    """One server, `${VAR}` and `${VAR:-default}` already expanded.

    stdio: `command`, `args`, `env` (the only variables the server gets beyond a plain
    PATH/HOME/LANG: never ketch's credentials), `cwd`. http/sse: `url`, `headers`, and `"oauth"`'s
    `oauth_client_id` / `oauth_scopes` for the authorization flow (oauth.py).
    `sandbox`: False only when the person wrote `"sandbox": false` for this server (a
    project's `.mcp.json` cannot say it); `allowed_hosts`: where a sandboxed stdio server may
    connect (the `"network"` list of its entry; a package runner adds its registry).
    `raw`: the entry as written, unexpanded, as canonical JSON: what an approval question shows
    and its fingerprint covers (`${TOKEN}` there, never the token).
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
    oauth_client_id: str = ""  # http/sse: a client id the authorization server gave (else ketch registers one)
    oauth_scopes: tuple[str, ...] = ()  # http/sse: the scopes to ask for (else what the server asks for)
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    raw: str = field(default="{}", compare=False)

    def describe(self) -> str:
        """What it runs or reaches, one line, for approval questions and listings."""
        if self.transport == "stdio":
            import shlex

            return shlex.join([self.command, *self.args])
        return f"{self.transport} {self.url}"


@dataclass
class ServerSet:
    """Every configured server, sorted by what may happen to it.

    `servers`: ready to start. `pending`: a project's servers not yet approved (the REPL asks,
    a headless run skips them). `disabled`: a project's servers the person turned off
    (`disabledMcpjsonServers`). `notices`: one line per entry skipped or key ignored, and why.
    """

    servers: list[ServerConfig] = field(default_factory=list)
    pending: list[ServerConfig] = field(default_factory=list)
    disabled: list[ServerConfig] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass
class _Layer:
    scope: Scope
    source: str  # the file, or "--mcp-config" for inline JSON
    servers: dict[str, Any]
    own: bool  # the person's own file: a problem is a ConfigError, not a notice


def load_servers(workspace: Path, *, trusted: bool, cli_configs: list[str], strict: bool,
                 environ: Mapping[str, str] | None = None, expand: bool = True) -> ServerSet:
    """The servers of a session in `workspace`. A name in several scopes is taken from the
    highest: cli > local > project > user. `strict` (--strict-mcp-config): only `cli_configs`.
    A project's `.mcp.json` is read only when `trusted`. ConfigError for a problem in the
    person's own files; `environ` (default os.environ) is what `${VAR}` expands from.
    `expand` False leaves `${VAR}` as written: to show entries (`ketch mcp get`), never to start them.
    """
    from ketch.ext.mcp.entries import MissingVariable, build_server, entry_problem, name_problem

    workspace = Path(os.path.realpath(workspace))
    variables = (os.environ if environ is None else environ) if expand else None
    result = ServerSet()
    switches = ProjectSwitches()
    layers = [] if strict else _person_and_project_layers(workspace, trusted, switches, result.notices)
    layers += [_cli_layer(value) for value in cli_configs]
    chosen: dict[str, ServerConfig | None] = {}
    for layer in layers:
        for name, entry in layer.servers.items():
            problem = name_problem(name) or entry_problem(entry)
            if problem:
                line = f'{layer.source}: server "{name}": {problem}'
                if layer.own:
                    raise ConfigError(line)
                result.notices.append(f"{line}; skipped")
                chosen[name] = None
                continue
            try:
                config, notices = build_server(name, entry, layer.scope, layer.source, variables)
            except MissingVariable as exc:
                result.notices.append(f'{layer.source}: server "{name}" skipped: ${{{exc.name}}} is not set '
                                      f"(export it, or write ${{{exc.name}:-default}})")
                chosen[name] = None  # a skipped entry still hides the same name in a lower scope
                continue
            except ValueError as exc:
                result.notices.append(f'{layer.source}: server "{name}" skipped: {exc}')
                chosen[name] = None
                continue
            result.notices += notices
            chosen[name] = config
    for server in chosen.values():
        if server is None:
            continue
        decision = switches.decide(workspace, server) if server.scope == "project" else "approved"
        {"approved": result.servers, "pending": result.pending, "disabled": result.disabled}[decision].append(server)
    return result


def _person_and_project_layers(workspace: Path, trusted: bool, switches: ProjectSwitches,
                               notices: list[str]) -> list[_Layer]:
    """user, project, local: lowest precedence first."""
    from ketch.config.settings import user_settings_path
    from ketch.ext.mcp import scopes

    user_path = user_settings_path()
    user = scopes.read_own(user_path)
    local, note = scopes.read_local(workspace)
    local_path = scopes.scope_path("local", workspace)
    if note:
        notices.append(note)
    switches.add(user, user_path)
    switches.add(local, local_path)
    layers = [_own_layer("user", user_path, user)]
    project_path = Path(workspace) / scopes.PROJECT_FILE
    if not trusted:
        if scopes.project_file_exists(workspace):
            notices.append(f"{project_path}: the project's MCP servers are skipped: this folder is not trusted "
                           "(trust it with `ketch --trust` to be asked about them)")
    else:
        project, note = scopes.read_project(workspace)
        if note:
            notices.append(f"{note}; its servers are skipped")
        try:
            servers = scopes.servers_of(project)
        except ValueError as exc:
            notices.append(f"{project_path}: {exc}; its servers are skipped")
            servers = {}
        layers.append(_Layer("project", str(project_path), servers, own=False))
    layers.append(_own_layer("local", local_path, local))
    return layers


def _own_layer(scope: Scope, path: Path, data: dict[str, Any] | None) -> _Layer:
    from ketch.ext.mcp.scopes import servers_of

    try:
        return _Layer(scope, str(path), servers_of(data), own=True)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _cli_layer(value: str) -> _Layer:
    """One --mcp-config: inline JSON (it starts with `{`) or a file, holding `mcpServers`."""
    from ketch.ext.mcp.scopes import parse_object, read_own

    if value.lstrip().startswith("{"):
        source = "--mcp-config"
        try:
            data: dict[str, Any] | None = parse_object(value, "--mcp-config JSON")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    else:
        path = Path(os.path.expanduser(value))
        source = str(path)
        data = read_own(path)
        if data is None:
            raise ConfigError(f"--mcp-config {value}: no such file (give a file or inline JSON with \"mcpServers\")")
    servers = (data or {}).get("mcpServers")
    if not isinstance(servers, dict):
        raise ConfigError(f'{source}: expected {{"mcpServers": {{"NAME": {{"command": "..."}}}}}}')
    return _Layer("cli", source, servers, own=True)

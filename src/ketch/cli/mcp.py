"""`ketch mcp add|add-json|list|get|remove`: the MCP servers of this folder, as Claude Code's `claude mcp`;
`ketch mcp auth NAME`: OAuth sign-in for a remote server (cli/mcp_auth.py);
`ketch mcp serve`: ketch's own tools served to an MCP client (ext/mcp/serve.py).

Where each scope is kept is told in ext/mcp/scopes.py: `local` (the default: this folder,
in ketch's own store), `user` (every folder), `project` (the folder's `.mcp.json`, shared
through the repository; each person approves its servers before they run). Values of `env`
and `headers` are written as given (`${VAR}` stays `${VAR}`, expanded when the server
starts) and never printed back. Exit status: 0 done, 1 no such server, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.cli import mcp_auth
from ketch.cli.common import parser_class
from ketch.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, KetchError, UsageError

if TYPE_CHECKING:
    from ketch.ext.mcp.config import ServerSet
    from ketch.ext.mcp.scopes import FileScope

SCOPES = ("local", "user", "project")
CHECK_TIMEOUT_S = 10.0
ADD_USAGE = "ketch mcp add [options] NAME (URL | -- COMMAND [ARGS...])"

DESCRIPTION = """\
MCP servers, in Claude Code's format. Scopes: local (default; this folder only, kept in
$KETCH_HOME/projects/), user (every folder: $KETCH_HOME/settings.json), project (the folder's
.mcp.json, shared with everyone who clones it; each person approves its servers once).

examples:
  ketch mcp add fs -- npx -y @modelcontextprotocol/server-filesystem .
  ketch mcp add github --transport http https://api.example.com/mcp --header "Authorization: Bearer ${GH_TOKEN}"
  ketch mcp add-json db '{"command":"uvx","args":["mcp-server-sqlite","--db-path","app.db"]}'
"""


def _parser() -> argparse.ArgumentParser:
    parser = parser_class("ketch mcp")
    p = parser(prog="ketch mcp", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=parser, metavar="COMMAND")
    add = sub.add_parser("add", help="add a server: NAME URL, or NAME -- COMMAND ARGS...", usage=ADD_USAGE)
    _add_arguments(add)
    add_json = sub.add_parser("add-json", help="add a server from its JSON entry, as in .mcp.json")
    add_json.add_argument("name", metavar="NAME")
    add_json.add_argument("json", metavar="JSON")
    _scope_argument(add_json)
    listing = sub.add_parser("list", help="every server: transport, scope, status, tools, token cost")
    listing.add_argument("--timeout", type=float, default=CHECK_TIMEOUT_S, metavar="SECONDS",
                         help=f"how long to wait for each server (default {CHECK_TIMEOUT_S:g})")
    get = sub.add_parser("get", help="one server: where it is configured and what it runs")
    get.add_argument("name", metavar="NAME")
    remove = sub.add_parser("remove", help="remove a server from its scope")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--scope", "-s", choices=SCOPES, help="needed only when the name is in several scopes")
    mcp_auth.add_parser(sub)
    _serve_arguments(sub.add_parser("serve", help="serve ketch's tools (Read, Edit, Write, Bash, Grep, Glob) to an MCP "
                                                  "client over stdin/stdout, behind its permission gate and sandbox"))
    return p


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    from ketch.config.settings import MODES

    serve.add_argument("--permission-mode", choices=list(MODES),
                       help="as for a run (default: your settings'); what would ask a person is refused")
    serve.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", nargs="+", default=[],
                       metavar="RULE", help="rules such as Edit 'Bash(npm test:*)' that run without asking")
    serve.add_argument("--disallowedTools", "--disallowed-tools", dest="disallowed_tools", nargs="+", default=[],
                       metavar="RULE", help="rules that are always refused")
    serve.add_argument("--add-dir", dest="add_dir", nargs="+", default=[], metavar="DIR",
                       help="more folders the tools may read and write")


def _add_arguments(add: argparse.ArgumentParser) -> None:
    add.add_argument("name", metavar="NAME")
    add.add_argument("target", nargs="?", metavar="URL", help="the server's URL (http/sse); for stdio put the "
                                                               "command after --")
    add.add_argument("--transport", "-t", choices=["stdio", "http", "sse"],
                     help="default: http for an http(s):// URL, else stdio")
    add.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                     help="an environment variable for a stdio server (repeatable; the only ones it gets "
                          "beyond PATH, HOME and LANG)")
    add.add_argument("-H", "--header", action="append", default=[], metavar='"NAME: VALUE"',
                     help="an HTTP header for an http/sse server (repeatable)")
    _scope_argument(add)


def _scope_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", "-s", choices=SCOPES, default="local", help="where to keep it (default: local)")


def _parse_add(argv: list[str]) -> argparse.Namespace:
    """`add`'s own parse, intermixed: NAME and URL may come before or after the options."""
    add = parser_class("ketch mcp add")(prog="ketch mcp add", usage=ADD_USAGE, description=DESCRIPTION,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(add)
    args = add.parse_intermixed_args(argv)
    args.command = "add"
    return args


def _workspace() -> Path:
    return Path(os.path.realpath(os.getcwd()))


def _say(line: str) -> None:
    from ketch.terminal_text import printable

    sys.stdout.write(printable(line) + "\n")


# --- add ------------------------------------------------------------------------------------


def _entry_from_flags(args: argparse.Namespace, command: list[str] | None) -> dict[str, Any]:
    """The JSON entry `ketch mcp add` writes, from its flags."""
    transport = args.transport
    if command is not None:
        if transport not in (None, "stdio"):
            raise UsageError(f"--transport {transport} takes a URL, not a command after --")
        if args.target is not None:
            raise UsageError(f"unexpected {args.target!r} before --: put the whole command after --")
        if not command:
            raise UsageError("no command after --: e.g. ketch mcp add fs -- npx -y @modelcontextprotocol/server-filesystem .")
        transport = "stdio"
    elif args.target is None:
        raise UsageError("give the server's URL, or its command after --")
    elif transport is None:
        transport = "http" if args.target.startswith(("http://", "https://")) else "stdio"
    if transport == "stdio":
        if args.header:
            raise UsageError("--header is for http and sse servers; a stdio server gets -e KEY=VALUE")
        argv = command if command is not None else [args.target]
        entry: dict[str, Any] = {"type": "stdio", "command": argv[0], "args": argv[1:]}
        if args.env:
            entry["env"] = dict(_pair(item, "=", "-e", "KEY=VALUE") for item in args.env)
        return entry
    if args.env:
        raise UsageError("-e is for stdio servers; an http or sse server gets --header \"NAME: VALUE\"")
    url = str(args.target)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    entry = {"type": transport, "url": url}
    if args.header:
        entry["headers"] = dict(_pair(item, ":", "--header", '"NAME: VALUE"') for item in args.header)
    return entry


def _pair(item: str, sep: str, flag: str, shape: str) -> tuple[str, str]:
    key, found, value = item.partition(sep)
    if not found or not key.strip():
        raise UsageError(f"{flag} {item!r}: write {shape}")
    return key.strip(), value.strip() if sep == ":" else value


def _add(name: str, entry: Any, scope: FileScope, workspace: Path) -> int:
    from ketch.ext.mcp.entries import entry_problem, name_problem, transport_of
    from ketch.ext.mcp.scopes import edit_servers

    problem = name_problem(name) or entry_problem(entry)
    if problem:
        raise UsageError(f'server "{name}": {problem}')

    def put(servers: dict[str, Any]) -> None:
        if name in servers:
            raise UsageError(f'{scope} scope already has a server "{name}": remove it first '
                             f"(ketch mcp remove {name} --scope {scope})")
        servers[name] = entry

    path = edit_servers(scope, workspace, put)
    _say(f'added {transport_of(entry)} server "{name}" to {scope} scope ({path})')
    if scope == "project":
        if entry.get("sandbox") is False:
            _say('note: "sandbox": false is ignored in .mcp.json; put the server in local or user scope to run it '
                 "outside the sandbox")
        _say("everyone who runs ketch here, you included, is asked to approve it before it starts")
    return EXIT_OK


def _add_json(name: str, text: str, scope: FileScope, workspace: Path) -> int:
    import json

    try:
        entry = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"JSON: {exc.msg} at column {exc.colno}; quote the whole entry in single quotes") from None
    return _add(name, entry, scope, workspace)


# --- remove ---------------------------------------------------------------------------------


def _scopes_holding(name: str, workspace: Path) -> list[FileScope]:
    from ketch.ext.mcp import scopes

    found: list[FileScope] = []
    for scope in SCOPES:
        if scope == "project":
            data, _ = scopes.read_project(workspace)
        elif scope == "local":
            data, _ = scopes.read_local(workspace)
        else:
            data = scopes.read_own(scopes.scope_path("user", workspace))
        try:
            if name in scopes.servers_of(data):
                found.append(scope)  # type: ignore[arg-type]  # SCOPES holds FileScope values
        except ValueError:
            continue
    return found


def _remove(name: str, scope: FileScope | None, workspace: Path) -> int:
    from ketch.ext.mcp.scopes import edit_servers

    if scope is None:
        found = _scopes_holding(name, workspace)
        if not found:
            sys.stderr.write(f'ketch: no server "{name}" in local, project or user scope (see `ketch mcp list`)\n')
            return EXIT_FAILED
        if len(found) > 1:
            raise UsageError(f'server "{name}" is in {" and ".join(found)} scope: pass --scope to say which')
        scope = found[0]

    def drop(servers: dict[str, Any]) -> None:
        if name not in servers:
            raise _Missing(f'no server "{name}" in {scope} scope (see `ketch mcp list`)')
        del servers[name]

    path = edit_servers(scope, workspace, drop)
    _say(f'removed server "{name}" from {scope} scope ({path})')
    return EXIT_OK


class _Missing(KetchError):
    """The server to remove is not in that scope: exit 1, nothing written."""


# --- list and get ---------------------------------------------------------------------------


def _load(workspace: Path, *, expand: bool = True) -> ServerSet:
    from ketch.ext.mcp.config import load_servers
    from ketch.security.trust import is_trusted

    servers = load_servers(workspace, trusted=is_trusted(workspace), cli_configs=[], strict=False, expand=expand)
    from ketch.terminal_text import printable

    for notice in servers.notices:  # they quote a project's .mcp.json
        sys.stderr.write(f"ketch: note: {printable(notice)}\n")
    return servers


def _list(workspace: Path, timeout_s: float) -> int:
    import importlib

    loaded = _load(workspace)
    if not (loaded.servers or loaded.pending or loaded.disabled):
        _say("no MCP servers configured here: add one with `ketch mcp add` (see `ketch mcp --help`)")
        return EXIT_OK
    rows = [("NAME", "TRANSPORT", "SCOPE", "STATUS", "TOOLS", "TOKENS")]
    if loaded.servers:  # the lead's manager: connect to each, list its tools, count their schema's tokens
        manager: Any = importlib.import_module("ketch.ext.mcp.manager")
        for status in manager.check_servers(loaded.servers, workspace, timeout_s):
            state = status.state + (f": {_one_line(status.detail)}" if status.detail else "")
            known = status.state == "connected"
            rows.append((status.name, status.transport, status.scope, state,
                         str(status.tools) if known else "-", str(status.tokens) if known else "-"))
    for state, configs in (("needs approval", loaded.pending), ("disabled", loaded.disabled)):
        rows += [(c.name, c.transport, c.scope, state, "-", "-") for c in configs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        _say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if loaded.pending:
        _say("servers that need approval are asked about when you start ketch here")
    return EXIT_OK


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _get(name: str, workspace: Path) -> int:
    import json

    from ketch.ext.mcp.config import is_approved

    loaded = _load(workspace, expand=False)  # shown as written: a missing variable does not hide the entry
    states = {id(c): s for s, group in (("approved", loaded.servers), ("needs approval", loaded.pending),
                                        ("disabled", loaded.disabled)) for c in group}
    config = next((c for c in (*loaded.servers, *loaded.pending, *loaded.disabled) if c.name == name), None)
    if config is None:
        sys.stderr.write(f'ketch: no server "{name}" here (see `ketch mcp list`)\n')
        return EXIT_FAILED
    raw = json.loads(config.raw)  # as written: `${TOKEN}` shows as itself, never as the token
    _say(name)
    _say(f"  scope: {config.scope} ({config.source})")
    _say(f"  transport: {config.transport}")
    if config.transport == "stdio":
        import shlex

        _say(f"  command: {shlex.join([raw['command'], *raw.get('args', [])])}")
        if raw.get("cwd"):
            _say(f"  cwd: {raw['cwd']}")
        _say(f"  env: {_names(raw.get('env'))}")
        _say(f"  sandbox: {'on' if config.sandbox else 'OFF (your setting: it runs with your full user rights)'}")
        _say(f"  network: {', '.join(config.allowed_hosts) or 'none'}")
    else:
        _say(f"  url: {raw['url']}")
        _say(f"  headers: {_names(raw.get('headers'))}")
    _say(f"  timeout: {config.timeout_s:g} s")
    if config.scope == "project":
        state = states[id(config)]
        if state == "approved" and not is_approved(workspace, config):
            state = "approved by your settings (enableAllProjectMcpServers or enabledMcpjsonServers)"
        _say(f"  status: {state}")
    if config.scope != "cli":
        _say(f"  remove with: ketch mcp remove {name} --scope {config.scope}")
    return EXIT_OK


def _names(mapping: Any) -> str:
    return (", ".join(mapping) + " (values not shown)") if mapping else "none"


# --- serve ----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, workspace: Path) -> int:
    """Serve until the client closes ketch's stdin. stdout is the protocol's alone; notes go to stderr."""
    from ketch.cli.tool_wiring import build_tool_agent
    from ketch.cli.wiring import RunOptions
    from ketch.ext.mcp.own_stdio import OwnStdio
    from ketch.ext.mcp.serve import SERVED, ToolServer

    options = RunOptions(workspace=workspace, allowed_tools=args.allowed_tools, disallowed_tools=args.disallowed_tools,
                         permission_mode=args.permission_mode, add_dirs=args.add_dir)
    agent = build_tool_agent(options, SERVED)
    try:
        for line in (*agent.config.notices, *agent.config.warnings):
            _log(f"note: {line}")
        _log(f"serving {', '.join(t.name for t in agent.tools)} over MCP on stdin/stdout in {agent.config.workspace} "
             f"(permission mode {agent.config.gate.mode})")
        ToolServer(agent, OwnStdio.take_process_streams(), log=_log).serve()
    finally:
        agent.close()
    return EXIT_OK


def _log(line: str) -> None:
    from ketch.terminal_text import printable

    sys.stderr.write(f"ketch: {printable(line)}\n")
    sys.stderr.flush()


def main(argv: Sequence[str]) -> int:
    args_list = list(argv)
    command: list[str] | None = None
    if args_list[:1] == ["add"] and "--" in args_list:  # everything after -- is the server's command line
        cut = args_list.index("--")
        args_list, command = args_list[:cut], args_list[cut + 1 :]
    try:
        args = _parse_add(args_list[1:]) if args_list[:1] == ["add"] else _parser().parse_args(args_list)
        workspace = _workspace()
        if args.command == "add":
            return _add(args.name, _entry_from_flags(args, command), args.scope, workspace)
        if args.command == "add-json":
            return _add_json(args.name, args.json, args.scope, workspace)
        if args.command == "remove":
            return _remove(args.name, args.scope, workspace)
        if args.command == "get":
            return _get(args.name, workspace)
        if args.command == "serve":
            return _serve(args, workspace)
        if args.command == "auth":
            return mcp_auth.run(args, _load(workspace), _say)
        return _list(workspace, args.timeout)
    except KetchError as exc:
        sys.stderr.write(f"ketch: {exc}\n")
        return exc.exit_status
    except OSError as exc:
        sys.stderr.write(f"ketch: cannot write {exc.filename or 'the file'}: {exc.strerror or exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("ketch: interrupted\n")
        return EXIT_INTERRUPTED

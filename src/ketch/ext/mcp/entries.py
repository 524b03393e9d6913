"""One server entry, as Claude Code writes it, checked and turned into a ServerConfig.

Two steps, because they fail differently: `entry_problem` checks the shape of the entry as
written (the same check `ketch mcp add` runs before it writes one), and `build_server` expands
`${VAR}` / `${VAR:-default}` in what the server is given. A shape problem is the writer's to
fix; a missing variable is the environment's, so it only skips the server (the caller says so).

Expansion follows Claude Code: in `command`, `args`, `env` values, `url` and `headers` values,
from ketch's own environment. A project's `.mcp.json` can thereby pull the person's secrets into
a server's env or headers; that is Claude Code's behaviour too, and why the approval question
shows the entry unexpanded (`ServerConfig.raw`) and a project entry needs that approval.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from ketch.errors import ConfigError
from ketch.ext.mcp.config import Scope, ServerConfig, TransportKind

TRANSPORTS = ("stdio", "http", "sse")
MAX_TIMEOUT_S = 3600.0
NAME_HINT = "use letters, digits, '-' and '_' (no '__', not starting or ending with '_'), at most 64 characters"

NPM = ("registry.npmjs.org",)
PYPI = ("pypi.org", "files.pythonhosted.org")
# A package runner fetches the server it runs: its registry must be reachable from the sandbox.
# Keyed by the program's name and, for runners that are a subcommand, the words that follow it.
RUNNERS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("npx",): NPM, ("bunx",): NPM, ("pnpx",): NPM, ("pnpm", "dlx"): NPM, ("yarn", "dlx"): NPM,
    ("npm", "exec"): NPM, ("bun", "x"): NPM,
    ("uvx",): PYPI, ("uv", "tool", "run"): PYPI, ("pipx", "run"): PYPI,
}


class MissingVariable(ConfigError):
    """A `${VAR}` with no default and no such variable: the server is skipped, naming VAR."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@cache
def _name_re() -> re.Pattern[str]:
    return re.compile(r"^[A-Za-z0-9-](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9-])?$")


@cache
def _var_re() -> re.Pattern[str]:
    """`${NAME}` or `${NAME:-default}`, as Claude Code expands them."""
    return re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@cache
def _header_name_re() -> re.Pattern[str]:
    return re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a server's name (tools are `mcp__<name>__<tool>`), or None."""
    if not _name_re().match(name) or "__" in name:
        return f"the name cannot make tool names mcp__{name}__<tool>: {NAME_HINT}"
    return None


def canonical_json(entry: Mapping[str, Any]) -> str:
    """The entry as one canonical string: what an approval fingerprints and the question shows."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def transport_of(entry: Mapping[str, Any]) -> str | None:
    kind = entry.get("type")
    if kind is None:
        return "stdio" if "command" in entry else None
    return kind if isinstance(kind, str) else None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def entry_problem(entry: Any) -> str | None:
    """What to fix in one entry as written (before expansion), or None when it is usable."""
    if not isinstance(entry, dict):
        return 'an entry must be an object, e.g. {"command": "npx", "args": ["-y", "pkg"]}'
    kind = transport_of(entry)
    if kind is None:
        if "url" in entry:
            return 'give "type": "http" (or "sse") with "url"'
        return 'give "command" (a program to run) or "type": "http" with "url"'
    if kind not in TRANSPORTS:
        return f'"type" {entry.get("type")!r} is not a transport: use "stdio", "http" or "sse"'
    if kind == "stdio":
        if not isinstance(entry.get("command"), str) or not entry["command"].strip():
            return '"command" must be the program to run, e.g. "npx"'
        if "args" in entry and not _strings(entry["args"]):
            return '"args" must be a list of strings, e.g. ["-y", "pkg"]'
        if "env" in entry and not _string_map(entry["env"]):
            return '"env" must map names to strings, e.g. {"TOKEN": "${TOKEN}"}'
        bad_names = [k for k in entry.get("env", {}) if not k or "=" in k or "\x00" in k]
        if bad_names:
            return f"env name {bad_names[0]!r} cannot be an environment variable's name"
        if any("\x00" in text for text in (entry["command"], *entry.get("args", []), *entry.get("env", {}).values())):
            return "a command, argument or env value cannot hold a NUL character"
        if "cwd" in entry and not isinstance(entry["cwd"], str):
            return '"cwd" must be a folder path'
        if "oauth" in entry:
            return '"oauth" is for "type": "http" or "sse" servers (a stdio server gets its secrets through "env")'
    else:
        if not isinstance(entry.get("url"), str) or not entry["url"].strip():
            return f'"url" must be the server\'s address for "type": "{kind}", e.g. "https://example.com/mcp"'
        if "headers" in entry:
            if not _string_map(entry["headers"]):
                return '"headers" must map names to strings, e.g. {"Authorization": "Bearer ${TOKEN}"}'
            bad = [k for k in entry["headers"] if not _header_name_re().match(k)]
            if bad:
                return f"header name {bad[0]!r} is not a valid HTTP header name"
        if "oauth" in entry:
            problem = _oauth_problem(entry["oauth"])
            if problem:
                return problem
    return _extras_problem(entry)


def _oauth_problem(oauth: Any) -> str | None:
    """`"oauth": {"clientId": "...", "scopes": ["..."]}`: both optional, nothing else."""
    hint = 'e.g. "oauth": {"clientId": "my-client", "scopes": ["read"]}'
    if not isinstance(oauth, dict) or set(oauth) - {"clientId", "scopes"}:
        return f'"oauth" may hold only "clientId" and "scopes": {hint}'
    client_id = oauth.get("clientId", "x")
    if not isinstance(client_id, str) or not client_id.strip() or any(c.isspace() or ord(c) < 32 for c in client_id):
        return f'"oauth": "clientId" must be the client id the authorization server gave you: {hint}'
    scopes = oauth.get("scopes", [])
    if not _strings(scopes) or not all(s and not any(c.isspace() or c in '"\\' for c in s) for s in scopes):
        return f'"oauth": "scopes" must be a list of scope names without spaces: {hint}'
    return None


def _extras_problem(entry: dict[str, Any]) -> str | None:
    """ketch's own keys: sandbox, network, timeout."""
    if "sandbox" in entry and not isinstance(entry["sandbox"], bool):
        return '"sandbox" must be true or false'
    if "network" in entry:
        if not _strings(entry["network"]):
            return '"network" must be a list of host names, e.g. ["api.github.com"]'
        from ketch.security.sandbox.proxy import parse_allowed  # only entries that name hosts pay for it

        try:
            parse_allowed(entry["network"])
        except ValueError as exc:
            return f'"network": {exc} (write a bare host name such as "api.github.com", or "host:port")'
    if "timeout" in entry:
        timeout = entry["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S:
            return f'"timeout" must be a number of seconds, more than 0 and at most {MAX_TIMEOUT_S:g}'
    return None


def expand(text: str, environ: Mapping[str, str] | None) -> str:
    """`${VAR}` and `${VAR:-default}` replaced; MissingVariable for a variable unset with no default.

    `environ` None: the text as written (for showing an entry, never for starting it)."""
    if environ is None:
        return text

    def one(match: re.Match[str]) -> str:
        value = environ.get(match.group(1))
        if value is not None:  # set, even to "": Claude Code's rule (the shell's `:-` would take the default)
            return value
        if match.group(2) is not None:
            return match.group(2)
        raise MissingVariable(match.group(1))

    return _var_re().sub(one, text)


def runner_hosts(command: str, args: tuple[str, ...]) -> tuple[str, ...]:
    """The registry a package runner needs (npx -> npm, uvx -> PyPI), or ()."""
    words = (os.path.basename(command), *args)
    for prefix, hosts in RUNNERS.items():
        if words[: len(prefix)] == prefix:
            return hosts
    return ()


def _refuse_ketch_credentials(entry: dict[str, Any]) -> None:
    """ValueError when a project's entry would expand ketch's own provider key (DESIGN.md §5.7).

    The approval question shows `${ANTHROPIC_API_KEY}`, not the key, and a repository's server
    has no business with the key ketch talks to its provider with; the person's own service
    tokens (`${GITHUB_TOKEN}`) still expand, as in Claude Code."""
    from ketch.config.providers import API_KEY_ENV

    texts = [entry.get("command", ""), *entry.get("args", []), *entry.get("env", {}).values(),
             entry.get("url", ""), *entry.get("headers", {}).values()]
    named = {m.group(1) for text in texts if isinstance(text, str) for m in _var_re().finditer(text)}
    for name in sorted(named & set(API_KEY_ENV.values())):
        raise ValueError(f"${{{name}}} is ketch's own credential: a project's server is never given it")


def build_server(name: str, entry: dict[str, Any], scope: Scope, source: str,
                 environ: Mapping[str, str] | None) -> tuple[ServerConfig, list[str]]:
    """The ServerConfig of a valid entry (see `entry_problem`) and notices about what was ignored.

    Raises MissingVariable, or ValueError when an expanded header would split the request.
    """
    notices: list[str] = []
    if scope == "project" and environ is not None:
        _refuse_ketch_credentials(entry)
    kind = transport_of(entry) or "stdio"
    sandbox = entry.get("sandbox", True)
    if sandbox is False and scope == "project":
        notices.append(f'{source}: server "{name}": "sandbox": false is ignored in a project\'s file '
                       f"(only your own settings can run a server outside the sandbox); it runs sandboxed")
        sandbox = True
    command = expand(entry.get("command", ""), environ)
    args = tuple(expand(a, environ) for a in entry.get("args", []))
    env = tuple((k, expand(v, environ)) for k, v in entry.get("env", {}).items())
    headers = tuple((k, expand(v, environ)) for k, v in entry.get("headers", {}).items())
    for key, value in headers:
        if any(c in value for c in "\r\n\x00"):
            raise ValueError(f"header {key!r} holds a line break or NUL once its variables are expanded")
    hosts = [h.strip().lower() for h in entry.get("network", [])]
    if kind == "stdio":
        hosts += runner_hosts(command, args)
    transport: TransportKind = "http" if kind == "http" else "sse" if kind == "sse" else "stdio"
    return ServerConfig(
        name=name, transport=transport, scope=scope, source=source, command=command, args=args, env=env,
        cwd=entry.get("cwd"), url=expand(entry.get("url", ""), environ), headers=headers,
        sandbox=bool(sandbox), allowed_hosts=tuple(dict.fromkeys(hosts)),
        timeout_s=float(entry.get("timeout", 30.0)), raw=canonical_json(entry),
        oauth_client_id=entry.get("oauth", {}).get("clientId", ""),
        oauth_scopes=tuple(entry.get("oauth", {}).get("scopes", [])),
    ), notices

"""Where MCP servers come from (issue 12): .mcp.json, user and local settings, --mcp-config.

Every source, the precedence between them, what a project may not do (run before the folder is
trusted and the entry approved, leave the sandbox, read a file outside itself), and what a bad
entry costs: a one-line error in the person's own file, a notice and a skip in a project's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ketch.config.project_store import remembered_path
from ketch.config.settings import read_layer
from ketch.errors import ConfigError
from ketch.ext.mcp.config import ServerSet, approve_server, is_approved, load_servers


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ketch-home"
    home.mkdir()
    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    return home


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "project"
    ws.mkdir()
    return ws.resolve()


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def user(home: Path, servers: dict, **more: object) -> Path:
    return write_json(home / "settings.json", {"mcpServers": servers, **more})


def local(ws: Path, servers: dict, **more: object) -> Path:
    return write_json(remembered_path(ws), {"project": str(ws), "mcpServers": servers, **more})


def project(ws: Path, servers: dict) -> Path:
    return write_json(ws / ".mcp.json", {"mcpServers": servers})


def load(ws: Path, *, trusted: bool = True, cli: list[str] | None = None, strict: bool = False,
         env: dict[str, str] | None = None) -> ServerSet:
    return load_servers(ws, trusted=trusted, cli_configs=cli or [], strict=strict, environ=env or {})


def by_name(configs: list) -> dict:
    return {c.name: c for c in configs}


def cmd(name: str) -> dict:
    return {"command": name}


# --- sources and precedence ------------------------------------------------------------------


def test_every_source_and_the_precedence_cli_local_project_user(home, ws, tmp_path):
    user(home, {"a": cmd("user-a"), "b": cmd("user-b"), "c": cmd("user-c"), "d": cmd("user-d"), "u": cmd("u")})
    project(ws, {"b": cmd("project-b"), "c": cmd("project-c"), "d": cmd("project-d"), "p": cmd("p")})
    local(ws, {"c": cmd("local-c"), "d": cmd("local-d"), "l": cmd("l")})
    cli_file = write_json(tmp_path / "servers.json", {"mcpServers": {"d": cmd("cli-file-d"), "f": cmd("f")}})
    inline = json.dumps({"mcpServers": {"i": {"type": "http", "url": "https://mcp.example.com/mcp"}}})
    result = load(ws, cli=[str(cli_file), inline], env={"ENABLE": "1"})
    assert [c.name for c in result.pending] == ["b", "p"]  # the project's, not yet approved
    for config in result.pending:
        approve_server(ws, config)
    result = load(ws, cli=[str(cli_file), inline])
    got = {name: (c.scope, c.command or c.url) for name, c in by_name(result.servers).items()}
    assert got == {
        "a": ("user", "user-a"), "u": ("user", "u"),
        "b": ("project", "project-b"), "p": ("project", "p"),
        "c": ("local", "local-c"), "l": ("local", "l"),
        "d": ("cli", "cli-file-d"), "f": ("cli", "f"), "i": ("cli", "https://mcp.example.com/mcp"),
    }
    assert result.pending == [] and result.notices == []
    assert by_name(result.servers)["d"].source == str(cli_file)
    assert by_name(result.servers)["i"].source == "--mcp-config"
    assert by_name(result.servers)["i"].transport == "http"


def test_a_later_mcp_config_wins_over_an_earlier_one(home, ws):
    first = json.dumps({"mcpServers": {"s": cmd("first")}})
    second = json.dumps({"mcpServers": {"s": cmd("second")}})
    assert [c.command for c in load(ws, cli=[first, second]).servers] == ["second"]


def test_strict_takes_only_the_mcp_config_servers(home, ws):
    user(home, {"u": cmd("u")})
    local(ws, {"l": cmd("l")}, enableAllProjectMcpServers=True)
    project(ws, {"p": cmd("p")})
    result = load(ws, cli=[json.dumps({"mcpServers": {"c": cmd("c")}})], strict=True)
    assert [c.name for c in result.servers] == ["c"]
    assert result.pending == [] and result.disabled == [] and result.notices == []


def test_an_untrusted_folder_skips_the_project_servers_with_a_notice(home, ws):
    project(ws, {"p": cmd("p")})
    user(home, {"p": cmd("mine"), "u": cmd("u")}, enableAllProjectMcpServers=True)
    result = load(ws, trusted=False)
    assert [(c.name, c.scope, c.command) for c in result.servers] == [("p", "user", "mine"), ("u", "user", "u")]
    assert result.pending == []
    assert len(result.notices) == 1 and "not trusted" in result.notices[0] and ".mcp.json" in result.notices[0]


def test_no_files_no_servers_no_notices(home, ws):
    assert load(ws) == ServerSet()


def test_local_settings_of_another_folder_are_not_used(home, ws, tmp_path):
    path = write_json(remembered_path(ws), {"project": str(tmp_path / "elsewhere"), "mcpServers": {"l": cmd("l")}})
    result = load(ws)
    assert result.servers == [] and len(result.notices) == 1 and str(path) in result.notices[0]


def test_mcp_settings_keys_are_known_to_the_settings_parser(home, ws):
    path = user(home, {"s": cmd("s")}, enableAllProjectMcpServers=False, enabledMcpjsonServers=["a"],
                disabledMcpjsonServers=["b"])
    layer = read_layer(path)
    assert layer is not None and layer.warnings == []
    remembered = local(ws, {"s": cmd("s")})
    layer = read_layer(remembered, extra_keys=frozenset({"project"}))
    assert layer is not None and layer.warnings == []


# --- approvals -------------------------------------------------------------------------------


def test_approval_is_kept_outside_the_tree_and_lapses_when_the_entry_changes(home, ws):
    project(ws, {"p": {"command": "server", "args": ["--db", "${DB:-app.db}"]}})
    [pending] = load(ws).pending
    assert not is_approved(ws, pending)
    store = approve_server(ws, pending)
    assert home in store.parents and ws not in store.parents
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in ws.iterdir()) == [".mcp.json"]
    assert [c.name for c in load(ws).servers] == ["p"]
    # The same entry with another value of the person's variable: still approved (the fingerprint is unexpanded).
    assert [c.args for c in load(ws, env={"DB": "other.db"}).servers] == [("--db", "other.db")]
    project(ws, {"p": {"command": "server", "args": ["--db", "${DB:-app.db}", "--evil"]}})
    result = load(ws)
    assert result.servers == [] and [c.name for c in result.pending] == ["p"]
    assert not is_approved(ws, result.pending[0])


def test_the_approval_shows_the_entry_unexpanded(home, ws):
    project(ws, {"p": {"command": "server", "env": {"TOKEN": "${SECRET}"}}})
    [pending] = load(ws, env={"SECRET": "s3cr3t-value"}).pending
    assert pending.env == (("TOKEN", "s3cr3t-value"),)  # what it would be given once approved
    assert "s3cr3t-value" not in pending.raw and json.loads(pending.raw)["env"] == {"TOKEN": "${SECRET}"}


def test_an_approval_store_of_another_folder_approves_nothing(home, ws, tmp_path):
    project(ws, {"p": cmd("p")})
    [pending] = load(ws).pending
    store = approve_server(ws, pending)
    data = json.loads(store.read_text())
    store.write_text(json.dumps({**data, "project": str(tmp_path / "other")}))
    assert [c.name for c in load(ws).pending] == ["p"]
    store.write_text("{not json")
    assert [c.name for c in load(ws).pending] == ["p"]


def test_claude_code_switches_from_user_and_local_settings(home, ws):
    project(ws, {"a": cmd("a"), "b": cmd("b"), "c": cmd("c")})
    user(home, {}, enabledMcpjsonServers=["a"])
    local(ws, {}, disabledMcpjsonServers=["b"])
    result = load(ws)
    assert ([c.name for c in result.servers], [c.name for c in result.pending], [c.name for c in result.disabled]) \
        == (["a"], ["c"], ["b"])
    local(ws, {}, enableAllProjectMcpServers=True, disabledMcpjsonServers=["b"])
    result = load(ws)
    assert [c.name for c in result.servers] == ["a", "c"] and [c.name for c in result.disabled] == ["b"]


def test_a_project_cannot_approve_its_own_servers(home, ws):
    project(ws, {"p": cmd("p")})
    write_json(ws / ".mcp.json", {"mcpServers": {"p": cmd("p")}, "enableAllProjectMcpServers": True,
                                  "enabledMcpjsonServers": ["p"]})
    write_json(ws / ".ketch" / "settings.json", {"enableAllProjectMcpServers": True, "enabledMcpjsonServers": ["p"]})
    write_json(ws / ".ketch" / "settings.local.json", {"enableAllProjectMcpServers": True})
    result = load(ws)
    assert result.servers == [] and [c.name for c in result.pending] == ["p"]


def test_a_wrongly_typed_switch_is_an_error_in_the_persons_file(home, ws):
    path = user(home, {}, enabledMcpjsonServers="all")
    with pytest.raises(ConfigError, match=f"{path}: enabledMcpjsonServers must be a list"):
        load(ws)


# --- entries ---------------------------------------------------------------------------------


def test_expansion_with_and_without_defaults(home, ws):
    user(home, {"s": {"command": "${BIN:-run-server}", "args": ["--port", "${PORT:-8080}", "${MODE}"],
                      "env": {"TOKEN": "${TOKEN}", "EMPTY": "${EMPTY:-fallback}"}},
                "h": {"type": "http", "url": "https://${HOST}/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}})
    result = load(ws, env={"MODE": "fast", "TOKEN": "tok", "HOST": "mcp.example.com", "EMPTY": ""})
    s, h = by_name(result.servers)["s"], by_name(result.servers)["h"]
    assert (s.command, s.args) == ("run-server", ("--port", "8080", "fast"))
    assert dict(s.env) == {"TOKEN": "tok", "EMPTY": ""}  # set but empty stays empty, as in Claude Code
    assert h.url == "https://mcp.example.com/mcp" and dict(h.headers) == {"Authorization": "Bearer tok"}


def test_a_missing_variable_skips_that_server_naming_it(home, ws):
    user(home, {"s": {"command": "srv", "args": ["${NOT_SET}"]}, "t": cmd("t")})
    result = load(ws)
    assert [c.name for c in result.servers] == ["t"]
    assert len(result.notices) == 1 and "${NOT_SET} is not set" in result.notices[0] and '"s"' in result.notices[0]


def test_a_skipped_server_still_hides_the_same_name_from_a_lower_scope(home, ws):
    user(home, {"s": cmd("user-s")})
    local(ws, {"s": {"command": "${NOT_SET}"}})
    result = load(ws)
    assert result.servers == [] and "NOT_SET" in result.notices[0]


def test_an_expanded_header_cannot_split_the_request(home, ws):
    user(home, {"h": {"type": "http", "url": "https://x.example/mcp", "headers": {"X-Id": "${ID}"}}})
    result = load(ws, env={"ID": "1\r\nX-Admin: yes"})
    assert result.servers == [] and "line break" in result.notices[0]


def test_a_project_cannot_turn_the_sandbox_off_but_the_person_can(home, ws, tmp_path):
    project(ws, {"p": {"command": "p", "sandbox": False}})
    user(home, {"u": {"command": "u", "sandbox": False}})
    local(ws, {"l": {"command": "l", "sandbox": False}})
    inline = json.dumps({"mcpServers": {"c": {"command": "c", "sandbox": False}}})
    result = load(ws, cli=[inline])
    assert {c.name: c.sandbox for c in result.servers} == {"u": False, "l": False, "c": False}
    assert [(c.name, c.sandbox) for c in result.pending] == [("p", True)]
    assert len(result.notices) == 1 and '"sandbox": false is ignored' in result.notices[0]


@pytest.mark.parametrize(("command", "args", "hosts"), [
    ("npx", ["-y", "@modelcontextprotocol/server-filesystem", "."], ("registry.npmjs.org",)),
    ("/usr/local/bin/npx", ["pkg"], ("registry.npmjs.org",)),
    ("bunx", ["pkg"], ("registry.npmjs.org",)),
    ("pnpm", ["dlx", "pkg"], ("registry.npmjs.org",)),
    ("yarn", ["dlx", "pkg"], ("registry.npmjs.org",)),
    ("uvx", ["mcp-server-sqlite"], ("pypi.org", "files.pythonhosted.org")),
    ("pipx", ["run", "mcp-server-git"], ("pypi.org", "files.pythonhosted.org")),
    ("pnpm", ["install"], ()),
    ("python3", ["-m", "server"], ()),
])
def test_a_package_runner_reaches_its_registry(home, ws, command, args, hosts):
    user(home, {"s": {"command": command, "args": args}})
    assert load(ws).servers[0].allowed_hosts == hosts


def test_network_hosts_are_validated_and_added_to(home, ws):
    user(home, {"s": {"command": "npx", "args": ["pkg"], "network": ["API.GitHub.com", "db.internal:5432"]}})
    assert load(ws).servers[0].allowed_hosts == ("api.github.com", "db.internal:5432", "registry.npmjs.org")
    path = user(home, {"s": {"command": "srv", "network": ["https://api.github.com/"]}})
    with pytest.raises(ConfigError, match=f'{path}: server "s": "network": not a host name'):
        load(ws)


def test_timeout_is_seconds(home, ws):
    user(home, {"s": {"command": "srv", "timeout": 5}})
    assert load(ws).servers[0].timeout_s == 5.0
    user(home, {"s": {"command": "srv", "timeout": 60000}})  # Gemini CLI's milliseconds
    with pytest.raises(ConfigError, match="number of seconds"):
        load(ws)


@pytest.mark.parametrize(("entry", "fix"), [
    ({"type": "websocket", "url": "wss://x"}, 'is not a transport: use "stdio", "http" or "sse"'),
    ({"args": ["x"]}, 'give "command"'),
    ({"url": "https://x/mcp"}, 'give "type": "http"'),
    ({"type": "http"}, '"url" must be'),
    ({"command": "srv", "args": ["--port", 8080]}, '"args" must be a list of strings'),
    ({"command": "srv", "env": {"PORT": 8080}}, '"env" must map names to strings'),
    ({"command": ["srv"]}, '"command" must be the program'),
    ({"command": "srv", "env": {"A=B": "1"}}, "cannot be an environment variable's name"),
    ({"command": "srv", "args": ["a\x00b"]}, "NUL character"),
    ({"type": "http", "url": "https://x", "headers": {"Bad Name": "v"}}, "not a valid HTTP header name"),
    ({"command": "srv", "sandbox": "no"}, '"sandbox" must be true or false'),
    ("npx pkg", "an entry must be an object"),
])
def test_a_bad_entry_is_a_one_line_error_in_the_persons_file_and_a_notice_in_a_project(home, ws, entry, fix):
    path = user(home, {"bad": entry})
    with pytest.raises(ConfigError) as caught:
        load(ws)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f'{path}: server "bad": ') and fix in message
    (home / "settings.json").unlink()
    project(ws, {"bad": entry, "good": cmd("good")})
    result = load(ws)
    assert [c.name for c in result.pending] == ["good"]
    assert len(result.notices) == 1 and fix in result.notices[0] and result.notices[0].endswith("skipped")


@pytest.mark.parametrize("name", ["a__b", "_a", "a_", "has space", "dot.ted", "x" * 65, "ünï", ""])
def test_names_must_fit_mcp_tool_names(home, ws, name):
    with pytest.raises(ConfigError, match="mcp__"):
        load(ws, cli=[json.dumps({"mcpServers": {name: cmd("srv")}})])


@pytest.mark.parametrize("name", ["github", "my-server", "my_server", "A1", "x" * 64])
def test_good_names(home, ws, name):
    assert [c.name for c in load(ws, cli=[json.dumps({"mcpServers": {name: cmd("srv")}})]).servers] == [name]


# --- malformed and hostile files -------------------------------------------------------------


def test_malformed_files_of_the_person_are_one_line_errors(home, ws, tmp_path):
    (home / "settings.json").write_text('{"mcpServers": {"a": }')
    with pytest.raises(ConfigError, match=r"settings\.json: invalid JSON at line 1 column 22"):
        load(ws)
    (home / "settings.json").write_text('{"mcpServers": ["a"]}')
    with pytest.raises(ConfigError, match='"mcpServers" must be an object'):
        load(ws)
    (home / "settings.json").unlink()
    with pytest.raises(ConfigError, match="--mcp-config JSON: invalid JSON"):
        load(ws, cli=['{"mcpServers": '])
    with pytest.raises(ConfigError, match="no such file"):
        load(ws, cli=[str(tmp_path / "missing.json")])
    with pytest.raises(ConfigError, match='expected {"mcpServers"'):
        load(ws, cli=[json.dumps({"servers": {}})])


def test_a_malformed_project_file_is_a_notice(home, ws):
    (ws / ".mcp.json").write_text("{oops")
    result = load(ws)
    assert result.servers == [] and len(result.notices) == 1 and "invalid JSON" in result.notices[0]
    (ws / ".mcp.json").write_text('{"mcpServers": 3}')
    assert "must be an object" in load(ws).notices[0]


def test_a_symlinked_mcp_json_pointing_outside_the_project_is_refused(home, ws, tmp_path):
    outside = write_json(tmp_path / "elsewhere" / "servers.json", {"mcpServers": {"evil": cmd("evil")}})
    os.symlink(outside, ws / ".mcp.json")
    result = load(ws)
    assert result.servers == [] and result.pending == []
    assert len(result.notices) == 1 and "points outside" in result.notices[0]


def test_a_symlink_inside_the_project_is_read(home, ws):
    write_json(ws / "config" / "mcp.json", {"mcpServers": {"p": cmd("p")}})
    os.symlink(ws / "config" / "mcp.json", ws / ".mcp.json")
    assert [c.name for c in load(ws).pending] == ["p"]


def test_a_huge_project_file_is_not_read(home, ws):
    (ws / ".mcp.json").write_text('{"mcpServers": {}, "pad": "' + "x" * 300_000 + '"}')
    result = load(ws)
    assert result.pending == [] and "larger than" in result.notices[0]


def test_a_fifo_as_mcp_json_does_not_hang(home, ws):
    os.mkfifo(ws / ".mcp.json")
    assert "not a regular file" in load(ws).notices[0]

"""`ketch mcp add|add-json|list|get|remove` through the real command, and `list` with its status check.

The files are the person's (settings.json, the folder's remembered settings) or the project's
(.mcp.json): an edit keeps every other key, never rewrites a file it could not parse, and never
prints a value of an env variable or a header.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from ketch.config.project_store import project_slug


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "ketch-home"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "project"
    ws.mkdir()
    return ws.resolve()


@pytest.fixture
def mcp(home: Path, ws: Path, tmp_path: Path):
    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
        base.update({"KETCH_HOME": str(home), "HOME": str(tmp_path / "user-home"), **(env or {})})
        proc = subprocess.run([sys.executable, "-m", "ketch", "mcp", *args], env=base, cwd=ws,
                              capture_output=True, text=True, timeout=60, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def local_file(home: Path, ws: Path) -> Path:
    """The folder's remembered settings in the command's KETCH_HOME (not this process's)."""
    return home / "projects" / project_slug(ws) / "settings.json"


def servers_in(path: Path) -> dict:
    return json.loads(path.read_text())["mcpServers"]


def test_add_a_stdio_server_to_local_scope_by_default(mcp, home, ws):
    r = mcp("add", "fs", "-e", "TOKEN=${FS_TOKEN}", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", ".")
    assert r.code == 0, r.err
    store = local_file(home, ws)
    assert str(store).startswith(str(home)) and f"({store})" in r.out
    data = json.loads(store.read_text())
    assert data == {"project": str(ws), "mcpServers": {"fs": {
        "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."],
        "env": {"TOKEN": "${FS_TOKEN}"}}}}
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    assert list(ws.iterdir()) == []  # nothing in the project


def test_add_an_http_server_to_user_scope_keeps_the_other_keys(mcp, home):
    home.mkdir()
    settings = home / "settings.json"
    settings.write_text(json.dumps({"model": "claude-sonnet-4-5", "permissions": {"allow": ["Read"]}}))
    r = mcp("add", "github", "--transport", "http", "https://api.example.com/mcp",
            "--header", "Authorization: Bearer ${GH_TOKEN}", "--scope", "user")
    assert r.code == 0, r.err
    data = json.loads(settings.read_text())
    assert data["model"] == "claude-sonnet-4-5" and data["permissions"] == {"allow": ["Read"]}
    assert data["mcpServers"] == {"github": {"type": "http", "url": "https://api.example.com/mcp",
                                             "headers": {"Authorization": "Bearer ${GH_TOKEN}"}}}


def test_a_url_alone_means_http(mcp, home):
    assert mcp("add", "-s", "user", "docs", "https://docs.example.com/mcp").code == 0
    assert servers_in(home / "settings.json")["docs"] == {"type": "http", "url": "https://docs.example.com/mcp"}


def test_add_json_to_project_scope_writes_mcp_json(mcp, ws):
    entry = {"command": "uvx", "args": ["mcp-server-sqlite", "--db-path", "app.db"]}
    r = mcp("add-json", "db", json.dumps(entry), "--scope", "project")
    assert r.code == 0, r.err
    assert json.loads((ws / ".mcp.json").read_text()) == {"mcpServers": {"db": entry}}
    assert "approve" in r.out


def test_adding_a_name_twice_is_refused(mcp, home, ws):
    assert mcp("add-json", "db", '{"command": "a"}').code == 0
    r = mcp("add-json", "db", '{"command": "b"}')
    assert r.code == 2 and "already has a server" in r.err
    assert servers_in(local_file(home, ws))["db"] == {"command": "a"}


@pytest.mark.parametrize(("args", "message"), [
    (["add", "a__b", "--", "srv"], "mcp__a__b__<tool>"),
    (["add", "x", "--transport", "http", "--", "srv"], "takes a URL"),
    (["add", "x", "--transport", "sse", "ftp://x"], "is not an http:// or https:// URL"),
    (["add", "x", "-e", "NOEQUALS", "--", "srv"], "-e 'NOEQUALS': write KEY=VALUE"),
    (["add", "x", "--header", "X-A: 1", "--", "srv"], "--header is for http and sse"),
    (["add", "x", "-e", "A=1", "https://x/mcp"], "-e is for stdio"),
    (["add", "x"], "give the server's URL"),
    (["add-json", "x", '{"command": 3}'], '"command" must be the program'),
    (["add-json", "x", "{oops"], "JSON:"),
    (["add-json", "x", '{"type": "http", "url": "https://x", "network": ["a b"]}'], '"network"'),
])
def test_bad_input_is_one_line_and_writes_nothing(mcp, home, ws, args, message):
    r = mcp(*args)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not local_file(home, ws).exists() and not (home / "settings.json").exists()


@pytest.mark.parametrize("scope", ["user", "local", "project"])
def test_a_malformed_file_is_refused_and_left_as_it_is(mcp, home, ws, scope):
    path = {"user": home / "settings.json", "local": local_file(home, ws), "project": ws / ".mcp.json"}[scope]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"mcpServers": {"a": {"command": "x"},}')
    for args in (["add", "-s", scope, "b", "--", "srv"], ["remove", "-s", scope, "a"]):
        r = mcp(*args)
        assert r.code == 2 and str(path) in r.err and "invalid JSON" in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1
        assert path.read_text() == '{"mcpServers": {"a": {"command": "x"},}'


def test_mcp_servers_that_is_not_an_object_is_refused(mcp, home):
    home.mkdir()
    (home / "settings.json").write_text('{"mcpServers": []}')
    r = mcp("add", "-s", "user", "b", "--", "srv")
    assert r.code == 2 and "must be an object" in r.err
    assert (home / "settings.json").read_text() == '{"mcpServers": []}'


def test_project_scope_refuses_a_symlinked_mcp_json_outside_the_project(mcp, ws, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text('{"mcpServers": {}}')
    os.symlink(outside, ws / ".mcp.json")
    r = mcp("add", "-s", "project", "b", "--", "srv")
    assert r.code == 2 and "points outside" in r.err
    assert outside.read_text() == '{"mcpServers": {}}' and os.path.islink(ws / ".mcp.json")


def test_remove_finds_the_scope_or_asks_which(mcp, home, ws):
    assert mcp("add", "-s", "user", "a", "--", "user-a").code == 0
    assert mcp("add", "-s", "local", "a", "--", "local-a").code == 0
    assert mcp("add", "-s", "user", "b", "--", "user-b").code == 0
    r = mcp("remove", "a")
    assert r.code == 2 and "local and user" in r.err and "--scope" in r.err
    assert mcp("remove", "b").code == 0
    assert servers_in(home / "settings.json") == {"a": {"type": "stdio", "command": "user-a", "args": []}}
    assert mcp("remove", "a", "--scope", "local").code == 0
    assert servers_in(local_file(home, ws)) == {}
    r = mcp("remove", "nothing")
    assert r.code == 1 and 'no server "nothing"' in r.err
    r = mcp("remove", "b", "--scope", "user")
    assert r.code == 1 and 'no server "b" in user scope' in r.err


def test_get_shows_what_it_runs_but_no_values(mcp, home):
    assert mcp("add", "-s", "user", "fs", "-e", "TOKEN=s3cr3t-literal", "-e", "MODE=${MODE}", "--",
               "npx", "-y", "pkg", "--key", "${API_KEY}").code == 0
    assert mcp("add", "-s", "user", "gh", "https://api.example.com/mcp", "-H", "Authorization: Bearer hdr-s3cr3t").code == 0
    r = mcp("get", "fs", env={"API_KEY": "expanded-s3cr3t", "MODE": "m"})
    assert r.code == 0, r.err
    assert "scope: user (" in r.out and "command: npx -y pkg --key '${API_KEY}'" in r.out
    assert "env: MODE, TOKEN (values not shown)" in r.out and "network: registry.npmjs.org" in r.out
    assert "s3cr3t" not in r.out + r.err
    r = mcp("get", "gh")  # GH's variables are not needed to show it
    assert r.code == 0 and "url: https://api.example.com/mcp" in r.out and "headers: Authorization (values" in r.out
    assert "hdr-s3cr3t" not in r.out + r.err
    r = mcp("get", "missing")
    assert r.code == 1 and 'no server "missing"' in r.err


def test_get_escapes_what_a_project_wrote(mcp, home, ws):
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"p": {"command": "srv\x1b]52;c;aGk=\x07"}}}))
    env = dict(os.environ, KETCH_HOME=str(home))
    subprocess.run([sys.executable, "-c", f"from ketch.security.trust import trust; trust({str(ws)!r})"],
                   env=env, check=True)  # trusted in the KETCH_HOME of the command, not of this process
    r = mcp("get", "p")
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\\x1b" in r.out and "status: needs approval" in r.out


# --- list (in process: the status check is the manager's) -------------------------------------


@dataclass
class FakeStatus:
    name: str
    scope: str
    transport: str
    state: str
    detail: str = ""
    tools: int = 0
    tokens: int = 0


def test_list_shows_status_tools_and_tokens(monkeypatch, capsys, home, ws, tmp_path):
    from ketch.cli import mcp as cli_mcp
    from ketch.security.trust import trust

    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.chdir(ws)
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"mcpServers": {
        "good": {"command": "srv"}, "dead": {"type": "http", "url": "https://dead.example/mcp"}},
        "disabledMcpjsonServers": ["off"]}))
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"new": {"command": "p"}, "off": {"command": "o"}}}))
    trust(ws)
    checked: list = []

    def check_servers(servers, workspace, timeout_s):
        checked.append(([s.name for s in servers], workspace, timeout_s))
        return [FakeStatus("good", "user", "stdio", "connected", tools=12, tokens=3400),
                FakeStatus("dead", "user", "http", "failed", detail="connection refused\n(port 443)")]

    monkeypatch.setitem(sys.modules, "ketch.ext.mcp.manager", types.SimpleNamespace(check_servers=check_servers))
    assert cli_mcp.main(["list", "--timeout", "3"]) == 0
    out = capsys.readouterr().out
    assert checked == [(["good", "dead"], ws, 3.0)]  # never the pending or disabled ones
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["NAME", "TRANSPORT", "SCOPE", "STATUS", "TOOLS", "TOKENS"]
    assert rows[1] == ["good", "stdio", "user", "connected", "12", "3400"]
    assert rows[2] == ["dead", "http", "user", "failed:", "connection", "refused", "(port", "443)", "-", "-"]
    assert rows[3] == ["new", "stdio", "project", "needs", "approval", "-", "-"]
    assert rows[4] == ["off", "stdio", "project", "disabled", "-", "-"]


def test_list_with_nothing_configured(mcp):
    r = mcp("list")
    assert r.code == 0 and "no MCP servers configured" in r.out


def test_list_in_an_untrusted_folder_says_why_project_servers_are_missing(mcp, ws):
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"p": {"command": "p"}}}))
    r = mcp("list")
    assert r.code == 0 and "not trusted" in r.err and "no MCP servers configured" in r.out


def test_run_flags_reach_the_run_options(tmp_path):
    from ketch.cli.run import build_parser, options_from_args

    inline = '{"mcpServers": {"a": {"command": "a"}}}'
    args = build_parser().parse_args(["-p", "hi", "--mcp-config", "one.json", "--mcp-config", inline,
                                      "--strict-mcp-config"])
    options = options_from_args(args, tmp_path)
    assert options.mcp_configs == ["one.json", inline] and options.strict_mcp_config is True
    options = options_from_args(build_parser().parse_args(["-p", "hi"]), tmp_path)
    assert options.mcp_configs == [] and options.strict_mcp_config is False

"""End-to-end: the real `ketch -p` with real MCP servers (sandboxed) and the fake model calling their tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import tool_results
from mcp_servers import COMMAND, NOTE


def _config(**servers: list[str]) -> str:
    return json.dumps({"mcpServers": {name: {"command": argv[0], "args": argv[1:]} for name, argv in servers.items()}})


def _tool_names(body: dict, dialect: str) -> list[str]:
    return [t["name"] if dialect == "anthropic" else t["function"]["name"] for t in body.get("tools", [])]


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_the_model_calls_an_mcp_tool_the_person_allowed(dialect, server, run_ketch):
    fake = server([
        {"tool_calls": [{"name": "mcp__basic__echo", "input": {"text": "through ketch"}}]},
        {"tool_calls": [{"name": "mcp__basic__read_note", "input": {}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "use the server", "--output-format", "json", "--mcp-config", _config(basic=[*COMMAND, "basic"]),
                     "--allowedTools", "mcp__basic__echo"], server=fake, dialect=dialect)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["permission_denials"] == []
    echoed = tool_results(fake.requests[1].body, dialect)[-1]
    assert echoed["content"] == "through ketch"
    note = tool_results(fake.requests[2].body, dialect)[-1]
    assert note["content"] == NOTE  # readOnlyHint, from the person's own config: no question
    assert "mcp__basic__echo" in _tool_names(fake.requests[2].body, dialect)


def test_an_mcp_tool_asks_by_default_so_headless_refuses_it(server, run_ketch):
    fake = server([
        {"tool_calls": [{"name": "mcp__basic__echo", "id": "call_echo", "input": {"text": "x"}}]},
        {"text": "refused"},
    ])
    run = run_ketch(["-p", "use the server", "--output-format", "json", "--mcp-config", _config(basic=[*COMMAND, "basic"])],
                    server=fake)
    assert run.returncode == 0, run.stderr
    denials = run.json()["permission_denials"]
    assert denials == [{"tool_name": "mcp__basic__echo", "tool_use_id": "call_echo", "tool_input": {"text": "x"}}]


def test_a_server_rule_covers_all_its_tools_and_deny_wins(server, run_ketch):
    fake = server([
        {"tool_calls": [{"name": "mcp__basic__add", "input": {"a": 1, "b": 2}}]},
        {"tool_calls": [{"name": "mcp__basic__echo", "id": "call_echo", "input": {"text": "x"}}]},
        {"text": "ok"},
    ])
    run = run_ketch(["-p", "use it", "--output-format", "json", "--mcp-config", _config(basic=[*COMMAND, "basic"]),
                     "--allowedTools", "mcp__basic", "--disallowedTools", "mcp__basic__echo"], server=fake)
    assert run.returncode == 0, run.stderr
    assert tool_results(fake.requests[1].body, "anthropic")[-1]["content"] == "3"
    assert [d["tool_name"] for d in run.json()["permission_denials"]] == ["mcp__basic__echo"]


def test_a_broken_server_is_one_line_and_the_run_goes_on(server, run_ketch):
    fake = server([{"text": "answered anyway"}])
    run = run_ketch(["-p", "hi", "--mcp-config", _config(broken=[*COMMAND, "exit-at-start"])], server=fake)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "answered anyway"
    assert "Traceback" not in run.stderr


def test_many_tools_cost_one_toolsearch_in_the_first_request(server, run_ketch):
    fake = server([
        {"tool_calls": [{"name": "ToolSearch", "input": {"query": "select:mcp__big__tool_042"}}]},
        {"tool_calls": [{"name": "mcp__big__tool_042", "input": {"text": "hi"}}]},
        {"text": "ok"},
    ])
    run = run_ketch(["-p", "go", "--output-format", "json", "--mcp-config", _config(big=[*COMMAND, "tools-500"]),
                     "--allowedTools", "mcp__big"], server=fake)
    assert run.returncode == 0, run.stderr
    second = fake.requests[1].body  # after ToolSearch loaded one tool: it and ToolSearch, not the other 499
    names = _tool_names(second, "anthropic")
    assert "ToolSearch" in names and "mcp__big__tool_042" in names and "mcp__big__tool_043" not in names
    assert tool_results(fake.requests[2].body, "anthropic")[-1]["content"] == "tool_042: hi"
    assert len(json.dumps(second["tools"])) < 40_000


def test_an_untrusted_folders_mcp_json_is_not_started(server, run_ketch, workspace: Path):
    marker = workspace / "ran"
    (workspace / ".mcp.json").write_text(json.dumps({"mcpServers": {"evil": {
        "command": "sh", "args": ["-c", f"touch {marker}"]}}}))
    fake = server([{"text": "ok"}])
    run = run_ketch(["-p", "hi"], server=fake)
    assert run.returncode == 0, run.stderr
    assert not marker.exists()


def test_the_reference_filesystem_server_end_to_end(server, run_ketch, workspace: Path):
    from mcp_npm import filesystem_argv

    (workspace / "notes.md").write_text("the answer is 42\n")
    fake = server([
        {"tool_calls": [{"name": "mcp__fs__read_text_file", "input": {"path": str(workspace / "notes.md")}}]},
        {"text": "42"},
    ])
    run = run_ketch(["-p", "what is the answer?", "--output-format", "stream-json",
                     "--mcp-config", _config(fs=filesystem_argv(workspace)), "--allowedTools", "mcp__fs"], server=fake)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    init = next(m for m in lines if m.get("subtype") == "init")
    assert init["mcp_servers"] and init["mcp_servers"][0]["name"] == "fs"
    assert "the answer is 42" in tool_results(fake.requests[1].body, "anthropic")[-1]["content"]

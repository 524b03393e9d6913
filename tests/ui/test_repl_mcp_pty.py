"""MCP in the interactive REPL, driven in a real 80x24 pseudo-terminal with the `basic` SDK server
(tests/fakes/mcp_servers.py): /mcp, a tool call reaching the model, elicitation, resources,
prompts as commands, a project's server asked about at start, and a server's failure notice."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mcp_servers import COMMAND, NOTE

BASIC = {"command": COMMAND[0], "args": [COMMAND[1], "basic"]}


def _config(**servers: dict) -> list[str]:
    return ["--mcp-config", json.dumps({"mcpServers": servers})]


def _wait_connected(t, name: str = "basic", timeout: float = 30) -> None:
    """/mcp until it lists `name` as connected (its start takes about a second)."""
    deadline = time.monotonic() + timeout
    while True:
        mark = len(t.printed)
        t.send("/mcp\r")
        t.wait("reconnect also re-enables", where="printed", since=mark)
        t.wait_prompt()
        shown = t.printed[mark:]
        if any(line.split()[:2] == [name, "connected"] for line in shown.splitlines()):
            return
        assert "failed" not in shown, shown
        assert time.monotonic() < deadline, f"{name} never connected:\n{shown}"


def _bodies(server) -> list[str]:
    return [json.dumps(r.body) for r in server.requests]


def test_mcp_lists_the_server_and_its_tool_result_reaches_the_model(server, term):
    s = server([
        {"text": "", "tool_calls": [{"name": "mcp__basic__echo", "input": {"text": "ping-4711"}}]},
        {"text": "The server echoed."},
    ])
    t = term(s, args=_config(basic=BASIC))
    t.wait_prompt()
    _wait_connected(t)
    line = next(x for x in t.printed.splitlines() if x.split()[:2] == ["basic", "connected"])
    assert "cli · stdio · sandboxed · 11 tools · ~" in line and "tokens" in line
    t.send("/mcp tools basic\r")
    t.wait("mcp__basic__read_note", where="printed")
    assert "mcp__basic__echo" in t.printed and "Returns its text unchanged." in t.printed
    t.wait_prompt()
    t.send("echo something\r")
    t.wait("mcp__basic__echo wants permission")
    t.wait("[n] deny")
    t.send("y")
    t.wait("The server echoed.")
    tool_results = [b for b in _bodies(s)[1:] if "tool_result" in b]
    assert tool_results and "ping-4711" in tool_results[-1]
    assert "mcp__basic__echo" in _bodies(s)[0]  # the first request already offered the tool (it was connected)
    t.send("\x04")
    assert t.wait_exit() == 0


def test_elicitation_is_asked_and_the_answer_reaches_the_model(server, term):
    s = server([
        {"text": "", "tool_calls": [{"name": "mcp__basic__ask", "input": {}}]},
        {"text": "Nice to meet you."},
    ])
    t = term(s, args=_config(basic=BASIC))
    t.wait_prompt()
    _wait_connected(t)
    t.send("ask me\r")
    t.wait("mcp__basic__ask wants permission")
    t.wait("[n] deny")
    t.send("y")
    t.wait("An MCP server asks: What is your name?")
    t.wait("[y] answer")
    t.send("y\r")
    t.wait("name (string, required)")
    t.send("Ada Lovelace\r")
    t.wait("Nice to meet you.")
    result = [b for b in _bodies(s) if "tool_result" in b][-1]
    assert '\\"action\\": \\"accept\\"' in result and "Ada Lovelace" in result
    t.send("\x04")
    assert t.wait_exit() == 0


def test_resources_attach_and_prompts_are_commands(server, term):
    s = server([{"text": "Read the note."}, {"text": "Reviewed."}])
    t = term(s, args=_config(basic=BASIC))
    t.wait_prompt()
    _wait_connected(t)
    t.send("@basic:no")
    t.wait("note://hello")  # completion, from the server's resources/list
    t.send("\x1b")  # close the menu; the typed text stays
    t.send("\x15what does @basic:note://hello say?\r")  # Ctrl-U: a clean line
    t.wait("attached @basic:note://hello")
    t.wait("Read the note.")
    assert NOTE in _bodies(s)[0] and 'server=\\"basic\\" uri=\\"note://hello\\"' in _bodies(s)[0]
    t.wait_prompt()
    t.send("/help\r")
    t.wait("MCP servers' prompts:", where="printed")
    t.wait("/mcp__basic__review CODE", where="printed")
    t.wait_prompt()
    t.send("/mcp__basic__review def f(): return 1\r")
    t.wait("Reviewed.")
    assert "Please review this code:" in _bodies(s)[1] and "def f(): return 1" in _bodies(s)[1]
    t.send("\x04")
    assert t.wait_exit() == 0


def _approvals(ketch_home: Path) -> list[Path]:
    return list(ketch_home.glob("projects/*/mcp-approvals.json"))


def test_a_projects_server_is_asked_about_approved_and_started(server, term, ketch_home, workspace):
    (workspace / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": BASIC}}))
    t = term(server([]))
    t.wait("has MCP servers (.mcp.json)", where="printed")
    t.wait("trust this folder? [y/N]")
    t.send("y\r")
    t.wait("MCP server 'proj' you have not approved", where="printed")
    t.wait("approve and start proj? [y/N]")
    assert "mcp_servers.py basic" in t.printed  # what it runs, and the entry as written
    assert '"command":' in t.printed
    t.send("y\r")
    t.wait("approved (kept in")
    t.wait_prompt()
    _wait_connected(t, "proj")
    assert len(_approvals(ketch_home)) == 1
    t.send("\x04")
    assert t.wait_exit() == 0
    again = term(server([]))  # approved: started without a question
    again.wait_prompt()
    _wait_connected(again, "proj")
    assert "approve and start" not in again.printed
    again.send("\x04")
    assert again.wait_exit() == 0


def test_a_declined_project_server_is_not_started_and_asked_again(server, term, ketch_home, workspace):
    (workspace / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": BASIC}}))
    t = term(server([]), args=["--trust"])
    t.wait("approve and start proj? [y/N]")
    t.send("n\r")
    t.wait("not started; ketch asks again next time")
    t.wait_prompt()
    t.send("/mcp\r")
    t.wait("not approved (ketch asks again next time)", where="printed")
    assert _approvals(ketch_home) == []
    t.send("\x04")
    assert t.wait_exit() == 0
    again = term(server([]))
    again.wait("approve and start proj? [y/N]")
    again.send("\r")
    again.wait_prompt()
    again.send("\x04")
    assert again.wait_exit() == 0


def test_a_server_failing_while_the_prompt_is_shown_prints_a_warning_above_it(server, term):
    hang = {"command": COMMAND[0], "args": [COMMAND[1], "hang-initialize"], "timeout": 2}
    t = term(server([]), args=_config(hang=hang))
    t.wait_prompt()
    t.send("abc")  # a draft being typed when the notice arrives
    t.wait("MCP server 'hang' failed to start", timeout=20)
    assert "ketch: MCP server" not in t.printed  # through the renderer, not a raw stderr write
    t.wait("> abc")  # the prompt is drawn again below the notice, the draft intact
    rows = t.text.splitlines()
    notice = next(i for i, r in enumerate(rows) if "failed to start" in r)
    assert notice < next(i for i, r in enumerate(rows) if r == "> abc")
    t.send("\x15/mcp\r")
    t.wait("failed: ", where="printed")
    t.send("\x04")
    assert t.wait_exit() == 0

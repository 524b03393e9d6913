"""cli/extensions.py: a project's unapproved MCP servers are a notice headless (the REPL asks instead,
tests/ui/test_repl_mcp_pty.py), and are not started."""

from __future__ import annotations

import json

from mcp_servers import COMMAND


def test_headless_a_projects_unapproved_server_is_a_notice_and_not_started(run_ketch, server, workspace):
    entry = {"command": COMMAND[0], "args": [COMMAND[1], "basic"]}
    (workspace / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": entry}}))
    s = server([{"text": "done"}])
    result = run_ketch(["--trust", "-p", "hi"], server=s)
    assert result.returncode == 0, result.stderr
    assert "project MCP server 'proj'" in result.stderr and "has not been approved" in result.stderr
    assert "mcp__proj__" not in json.dumps(s.requests[0].body)
    assert "approve and start" not in result.stdout + result.stderr

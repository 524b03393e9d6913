"""ext.mcp.stdio: what a server's output can cost ketch (memory, a stuck request), over real pipes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ketch.errors import McpError
from ketch.ext.mcp.jsonrpc import Connection
from ketch.ext.mcp.stdio import MAX_NODES, StdioTransport
from ketch.security.sandbox.served import spawn_unsandboxed

# Answers request 1 with a message too big, request 2 with one too complex, request 3 normally.
SERVER = r'''
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    if "id" not in req:
        continue
    n = req["id"]
    if req["method"] == "big":
        sys.stdout.write('{"jsonrpc":"2.0","id":%d,"result":{"t":"%s"}}\n' % (n, "x" * (int(sys.argv[1]) + 10)))
    elif req["method"] == "nodes":
        sys.stdout.write('{"jsonrpc":"2.0","id":%d,"result":{"l":[%s]}}\n' % (n, ",".join(["{}"] * int(sys.argv[2]))))
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": n, "result": {"ok": True}}) + "\n")
    sys.stdout.flush()
'''


@pytest.fixture
def conn(tmp_path: Path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    limit = 1 << 20
    transport = StdioTransport(lambda: spawn_unsandboxed([sys.executable, str(script), str(limit), str(MAX_NODES + 5)],
                                                         cwd=tmp_path, env={}), max_message_bytes=limit)
    connection = Connection(transport)
    connection.open()
    yield connection
    connection.close()


def test_an_answer_over_the_size_cap_fails_its_request_and_the_server_stays(conn: Connection) -> None:
    with pytest.raises(McpError, match="over 1 MiB"):
        conn.request("big", timeout_s=10)
    assert conn.request("fine", timeout_s=10) == {"ok": True}


def test_an_answer_with_too_many_objects_is_never_parsed(conn: Connection) -> None:
    with pytest.raises(McpError, match="objects"):
        conn.request("nodes", timeout_s=10)
    assert conn.request("fine", timeout_s=10) == {"ok": True}

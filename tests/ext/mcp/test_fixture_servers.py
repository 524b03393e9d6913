"""The MCP servers ketch's client is tested against, checked on their own with raw JSON lines.

A broken fixture would make a client test pass or fail for the wrong reason; these drive each
server (tests/fakes/mcp_servers.py, the npm reference servers) with no SDK client and no ketch
code: initialize, tools/list, a call, and the one thing each server is for.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
from pathlib import Path

import pytest
from mcp_npm import PACKAGES, everything_argv, filesystem_argv, install_command, npm_server_argv
from mcp_servers import COMMAND, NOTE
from mcp_wire import WireClient

ROOT = Path(__file__).resolve().parents[3]


def call(client: WireClient, name: str, arguments: dict[str, object] | None = None, **kw: object) -> dict:
    response = client.request("tools/call", {"name": name, "arguments": arguments or {}}, **kw)  # type: ignore[arg-type]
    assert "result" in response, response
    return response["result"]


def text_of(result: dict) -> str:
    return "".join(block["text"] for block in result["content"] if block["type"] == "text")


def tool_names(client: WireClient) -> list[str]:
    return [tool["name"] for tool in client.request("tools/list")["result"]["tools"]]


@pytest.fixture(scope="module")
def basic():
    """One `basic` server for the module's tests (it takes ~0.8 s to start: the SDK's import)."""
    with WireClient(COMMAND + ["basic"], env={**os.environ, "FIXTURE_MARKER": "marker-value"}) as client:
        response = client.initialize(timeout=30)
        assert response["result"]["serverInfo"]["name"] == "basic"
        yield client


def test_basic_lists_every_tool_and_marks_read_note_read_only(basic):
    tools = {tool["name"]: tool for tool in basic.request("tools/list")["result"]["tools"]}
    assert set(tools) == {"echo", "add", "read_note", "slow", "big", "fail", "roots", "ask", "write_file", "env", "net"}
    assert tools["read_note"]["annotations"]["readOnlyHint"] is True
    assert "annotations" not in tools["write_file"] or not tools["write_file"]["annotations"].get("readOnlyHint")
    assert tools["add"]["inputSchema"]["properties"]["a"]["type"] == "integer"


def test_basic_tools_answer(basic, tmp_path):
    assert text_of(call(basic, "echo", {"text": "hé \x1b[31m"})) == "hé \x1b[31m"
    assert text_of(call(basic, "add", {"a": 2, "b": 40})) == "42"
    assert text_of(call(basic, "read_note")) == NOTE
    assert len(text_of(call(basic, "big", {"chars": 100_003}))) == 100_003
    failed = call(basic, "fail")
    assert failed["isError"] is True and "always fails" in text_of(failed)
    target = tmp_path / "out.txt"
    assert str(target) in text_of(call(basic, "write_file", {"path": str(target), "text": "written"}))
    assert target.read_text() == "written"
    refused = call(basic, "write_file", {"path": str(tmp_path / "no" / "such" / "dir"), "text": "x"})
    assert refused["isError"] is True and "FileNotFoundError" in text_of(refused)
    assert json.loads(text_of(call(basic, "env")))["FIXTURE_MARKER"] == "marker-value"


def test_basic_net_reports_the_status_or_the_error(basic):
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert text_of(call(basic, "net", {"url": f"http://127.0.0.1:{server.server_address[1]}/"})) == "status 204"
    finally:
        server.shutdown()
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert text_of(call(basic, "net", {"url": f"http://127.0.0.1:{port}/"})).startswith("error URLError")


def test_basic_asks_the_client_for_roots_and_elicitation(basic):
    asked: list[str] = []

    def answer(request: dict) -> dict:
        asked.append(request["method"])
        if request["method"] == "roots/list":
            return {"roots": [{"uri": "file:///work/project", "name": "project"}]}
        assert request["params"]["requestedSchema"]["properties"]["name"]["type"] == "string"
        return {"action": "accept", "content": {"name": "Ann"}}

    assert json.loads(text_of(call(basic, "roots", on_request=answer))) == [
        {"uri": "file:///work/project", "name": "project"}]
    assert json.loads(text_of(call(basic, "ask", on_request=answer))) == {"action": "accept", "content": {"name": "Ann"}}
    assert asked == ["roots/list", "elicitation/create"]


def test_basic_slow_reports_progress_and_stops_when_cancelled(basic):
    basic.seen.clear()
    done = basic.request("tools/call", {"name": "slow", "arguments": {"seconds": 0.3}, "_meta": {"progressToken": "p"}})
    assert text_of(done["result"]) == "slept 0.3 s in 3 ticks"
    progress = [m["params"] for m in basic.seen if isinstance(m, dict) and m.get("method") == "notifications/progress"]
    assert [(p["progressToken"], p["progress"], p["total"]) for p in progress] == [("p", 1, 3), ("p", 2, 3), ("p", 3, 3)]

    request_id = basic.start_request("tools/call", {"name": "slow", "arguments": {"seconds": 60},
                                                    "_meta": {"progressToken": "q"}})
    first = basic.next_line()
    assert first["method"] == "notifications/progress" and first["params"]["progressToken"] == "q"
    basic.notify("notifications/cancelled", {"requestId": request_id, "reason": "the person pressed Esc"})
    assert "slow: cancelled after" in basic.wait_for_stderr("slow: cancelled after")
    assert basic.request("ping")["result"] == {}  # still serving


def test_basic_resources_and_prompt(basic):
    assert [r["uri"] for r in basic.request("resources/list")["result"]["resources"]] == ["note://hello"]
    assert basic.request("resources/read", {"uri": "note://hello"})["result"]["contents"][0]["text"] == NOTE
    templates = basic.request("resources/templates/list")["result"]["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["note://notes/{name}"]
    read = basic.request("resources/read", {"uri": "note://notes/todo"})["result"]
    assert read["contents"][0]["text"] == "the note called todo"
    assert [p["name"] for p in basic.request("prompts/list")["result"]["prompts"]] == ["review"]
    got = basic.request("prompts/get", {"name": "review", "arguments": {"code": "x = 1"}})["result"]
    assert got["messages"][0]["content"]["text"].endswith("x = 1")


def test_many_has_n_distinct_realistic_tools():
    with WireClient(COMMAND + ["many", "40", "--prefix", "gh_"]) as client:
        client.initialize(timeout=30)
        tools = client.request("tools/list")["result"]["tools"]
        assert len({t["name"] for t in tools}) == 40 and all(t["name"].startswith("gh_") for t in tools)
        assert all(250 <= len(t["description"].encode()) <= 350 for t in tools), [len(t["description"]) for t in tools]
        assert all(len(t["inputSchema"]["properties"]) >= 3 for t in tools)
        answer = text_of(call(client, tools[7]["name"], {"owner": "o", "repo": "r"}))
        assert answer == f'{tools[7]["name"]} called with {{"owner": "o", "repo": "r"}}'


def test_many_400_names_stay_distinct():
    from mcp_servers import many_tools

    assert len({t["name"] for t in many_tools(400)}) == 400


def test_listchanged_adds_a_tool_after_the_first_call_and_says_so():
    with WireClient(COMMAND + ["listchanged"]) as client:
        assert client.initialize(timeout=30)["result"]["capabilities"]["tools"]["listChanged"] is True
        assert tool_names(client) == ["first"]
        assert text_of(call(client, "first")) == "first tool's answer"
        assert {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"} in client.seen
        assert tool_names(client) == ["first", "second"]
        assert text_of(call(client, "second")) == "second tool's answer"


def test_the_bad_servers_do_not_import_the_sdk():
    """They start in the time Python takes: nothing named mcp* is imported."""
    with WireClient([COMMAND[0], "-X", "importtime", *COMMAND[1:], "sleep-start", "0"]) as client:
        assert "result" in client.initialize()
        assert tool_names(client) == ["echo"]
    imported = [line.rsplit("|", 1)[-1].strip() for line in client.stderr.decode().splitlines() if "|" in line]
    assert "json" in imported and not [m for m in imported if m.split(".")[0] in ("mcp", "mcp_types", "pydantic")]


def test_exit_at_start_exits_3_with_a_reason():
    client = WireClient(COMMAND + ["exit-at-start"])
    assert client.proc.wait(timeout=30) == 3
    with pytest.raises(EOFError):
        client.next_line()
    assert "cannot open the database" in client.wait_for_stderr("cannot open")
    client.close()


def test_hang_initialize_never_answers_anything():
    with WireClient(COMMAND + ["hang-initialize"]) as client:
        client.start_request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                            "clientInfo": {"name": "t", "version": "0"}})
        client.start_request("ping")
        assert client.close(grace=30) == 0  # exits when stdin ends...
    with pytest.raises(EOFError):
        client.next_line()  # ...having written nothing


def test_hang_initialize_stubborn_ignores_sigterm():
    with WireClient(COMMAND + ["hang-initialize", "--stubborn"]) as client:
        client.wait_for_stderr("ignoring SIGTERM")
        status = Path(f"/proc/{client.proc.pid}/status").read_text()
        ignored = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
        assert ignored & (1 << (15 - 1)), status  # SIGTERM is 15
        client.proc.kill()


def test_malformed_never_sends_a_valid_response():
    with WireClient(COMMAND + ["malformed"]) as client:
        request_id = client.start_request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                                         "clientInfo": {"name": "t", "version": "0"}})
        lines = [client.next_line() for _ in range(6)]
        assert [type(line).__name__ for line in lines] == ["bytes", "bytes", "bytes", "dict", "list", "dict"]
        assert lines[2].startswith(b"\xff\xfe")
        assert lines[3] == {"hello": "world", "id": request_id}
        assert lines[5]["jsonrpc"] == "1.0"
        client.close()
        with pytest.raises(EOFError):
            client.next_line()


def test_huge_result_is_20_mb():
    with WireClient(COMMAND + ["huge-result"]) as client:
        client.initialize()
        assert tool_names(client) == ["echo"]
        assert len(text_of(call(client, "echo", {"text": "x"}))) == 20 * 1024 * 1024


def test_tools_500_pages_by_cursor():
    with WireClient(COMMAND + ["tools-500"]) as client:
        client.initialize()
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            result = client.request("tools/list", {"cursor": cursor} if cursor else {})["result"]
            names += [t["name"] for t in result["tools"]]
            pages += 1
            cursor = result.get("nextCursor")
            if cursor is None:
                break
        assert pages == 10 and len(set(names)) == 500
        assert text_of(call(client, "tool_499", {"text": "hi"})) == "tool_499: hi"
        assert call(client, "nope")["isError"] is True


def test_die_mid_call_exits_while_the_call_is_pending():
    with WireClient(COMMAND + ["die-mid-call"]) as client:
        client.initialize()
        assert tool_names(client) == ["echo"]
        with pytest.raises(EOFError):
            client.request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
        assert client.proc.wait(timeout=10) == 7


def test_sleep_start_answers_after_its_sleep():
    import time

    start = time.monotonic()
    with WireClient(COMMAND + ["sleep-start", "0.3"]) as client:
        client.initialize()
        assert time.monotonic() - start >= 0.3
        assert text_of(call(client, "echo", {"text": "late"})) == "late"


def test_an_unknown_kind_names_the_kinds():
    client = WireClient(COMMAND + ["no-such-kind"])
    assert client.proc.wait(timeout=30) == 1
    assert "sleep-start" in client.wait_for_stderr("KIND is one of")
    client.close()


# The npm reference servers (.ci/run installs them).


def test_ci_and_the_readme_install_the_pinned_npm_servers():
    line = install_command().replace("npm install", "", 1)
    for file in (ROOT / ".ci" / "run", ROOT / "README.md"):
        assert f"npm install{line}" in file.read_text(), file
    assert all(version.count(".") == 2 and "^" not in version for _, version in PACKAGES.values())


def test_a_missing_npm_server_fails_under_ci_and_skips_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("KETCH_TEST_NPM", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="server-everything is not installed.*npm install --prefix"):
        npm_server_argv("everything")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="server-filesystem is not installed"):
        npm_server_argv("filesystem")


def test_server_everything_over_stdio():
    with WireClient(everything_argv()) as client:
        assert client.initialize(timeout=60)["result"]["capabilities"]["tools"]["listChanged"] is True
        names = tool_names(client)
        assert {"echo", "get-sum", "trigger-long-running-operation", "get-roots-list"} <= set(names)
        assert text_of(call(client, "echo", {"message": "hi"})) == "Echo: hi"
    assert client.proc.returncode == -15  # it outlives the end of stdin: a client must send SIGTERM


def test_server_filesystem_over_stdio(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "a.txt").write_text("hello")

    def roots(request: dict) -> dict:  # it asks for the client's roots, which replace its argv folders
        return {"roots": [{"uri": allowed.as_uri(), "name": "allowed"}]}

    with WireClient(filesystem_argv(allowed)) as client:
        client.initialize(timeout=60)
        names = client.request("tools/list", on_request=roots)["result"]["tools"]
        assert {"read_text_file", "write_file", "list_directory"} <= {t["name"] for t in names}
        assert text_of(call(client, "read_text_file", {"path": str(allowed / "a.txt")}, on_request=roots)) == "hello"
        outside = call(client, "read_text_file", {"path": str(tmp_path / "x")}, on_request=roots)
        assert outside["isError"] is True and "outside allowed directories" in text_of(outside)

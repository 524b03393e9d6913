"""ext.mcp.manager with real servers in the real sandbox: what a server offers, and what a bad one cannot do."""
from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_npm import everything_argv, filesystem_argv
from mcp_servers import COMMAND, NOTE

from ketch.errors import McpError
from ketch.ext.mcp.config import ServerConfig
from ketch.ext.mcp.manager import McpManager
from ketch.ext.mcp.tools import McpTool, ToolSearch
from ketch.tools.base import SessionState, ToolContext


def _server(name: str, argv: list[str], *, scope: str = "user", timeout_s: float = 20.0, **kw: Any) -> ServerConfig:
    return ServerConfig(name=name, transport="stdio", scope=scope, source="test",  # type: ignore[arg-type]
                        command=argv[0], args=tuple(argv[1:]), timeout_s=timeout_s, **kw)


def _bad(kind: str, *args: str, timeout_s: float = 20.0) -> ServerConfig:
    return _server(kind.replace("-", "_"), [*COMMAND, kind, *args], timeout_s=timeout_s)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mcp")
    out = {name: root / name for name in ("ws", "home", "ketch")}
    for path in out.values():
        path.mkdir()
    return out


def _manager(places: dict[str, Path], servers: list[ServerConfig], **kw: Any) -> McpManager:
    args = {"workspace": places["ws"], "home": places["home"], "ketch_home": places["ketch"]}
    return McpManager(servers, workspace=places["ws"], sandbox_args=args, **kw)


@pytest.fixture(scope="module")
def basic(places: dict[str, Path]) -> Iterator[McpManager]:
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-api03-" + "x" * 40  # must never reach a server
    try:
        manager = _manager(places, [_server("basic", [*COMMAND, "basic"]),
                                    _server("proj", [*COMMAND, "basic"], scope="project")])
        manager.start()
        manager.wait(30)
        yield manager
        manager.close()
    finally:
        del os.environ["ANTHROPIC_API_KEY"]


def _ctx(places: dict[str, Path], cancel: threading.Event | None = None) -> ToolContext:
    return ToolContext(workspace=places["ws"], state=SessionState(), runner=None,  # type: ignore[arg-type]
                       cancel=cancel or threading.Event())


def _tool(manager: McpManager, name: str) -> McpTool:
    tool = manager.find(name)
    assert isinstance(tool, McpTool), (name, manager.statuses())
    return tool


def test_a_sandboxed_server_connects_and_its_tools_are_named_for_it(basic: McpManager) -> None:
    statuses = {s.name: s for s in basic.statuses()}
    assert statuses["basic"].state == "connected" and statuses["basic"].sandboxed
    names = {t.name for t in basic.offered()}
    assert {"mcp__basic__echo", "mcp__basic__add", "mcp__proj__echo"} <= names
    assert statuses["basic"].tools == 11 and statuses["basic"].tokens > 0
    assert basic.status() == ""  # nothing to tell the model


def test_calls_return_the_servers_answer(basic: McpManager, places: dict[str, Path]) -> None:
    assert _tool(basic, "mcp__basic__add").run({"a": 2, "b": 3}, _ctx(places)).content == "5"
    assert _tool(basic, "mcp__basic__read_note").run({}, _ctx(places)).content == NOTE
    failed = _tool(basic, "mcp__basic__fail").run({}, _ctx(places))
    assert failed.is_error


def test_read_only_hints_are_believed_only_from_the_persons_own_config(basic: McpManager) -> None:
    assert _tool(basic, "mcp__basic__read_note").kind == "read"
    assert _tool(basic, "mcp__proj__read_note").kind == "execute"  # a project's .mcp.json: asks
    assert _tool(basic, "mcp__basic__echo").kind == "execute"


def test_no_credential_reaches_a_server(basic: McpManager, places: dict[str, Path]) -> None:
    env = json.loads(_tool(basic, "mcp__basic__env").run({}, _ctx(places)).content)
    assert "ANTHROPIC_API_KEY" not in env
    assert not any("sk-ant-" in value for value in env.values())


def test_a_server_writes_the_workspace_but_nothing_outside(basic: McpManager, places: dict[str, Path]) -> None:
    ctx = _ctx(places)
    inside = places["ws"] / "made.txt"
    _tool(basic, "mcp__basic__write_file").run({"path": str(inside), "text": "hi"}, ctx)
    assert inside.read_text() == "hi"
    outside = places["home"] / ".bashrc"
    result = _tool(basic, "mcp__basic__write_file").run({"path": str(outside), "text": "evil"}, ctx)
    assert not outside.exists(), result.content
    hook = places["ws"] / ".git" / "hooks" / "pre-commit"
    _tool(basic, "mcp__basic__write_file").run({"path": str(hook), "text": "evil"}, ctx)
    assert not hook.exists()


def test_a_server_has_no_network(basic: McpManager, places: dict[str, Path]) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        result = _tool(basic, "mcp__basic__net").run({"url": url}, _ctx(places)).content
    finally:
        httpd.shutdown()
    assert "200" not in result, result


def test_roots_are_the_workspace(basic: McpManager, places: dict[str, Path]) -> None:
    result = _tool(basic, "mcp__basic__roots").run({}, _ctx(places)).content
    assert places["ws"].as_uri() in result


def test_an_interrupt_cancels_the_call_on_the_server(basic: McpManager, places: dict[str, Path]) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(McpError, match="interrupted"):
        _tool(basic, "mcp__basic__slow").run({"seconds": 20}, _ctx(places, cancel))
    assert time.monotonic() - started < 5
    assert _tool(basic, "mcp__basic__echo").run({"text": "still here"}, _ctx(places)).content == "still here"


def test_a_huge_result_is_cut_and_the_session_goes_on(places: dict[str, Path]) -> None:
    manager = _manager(places, [_bad("huge-result")])
    manager.start()
    manager.wait(20)
    try:
        tool = next(t for t in manager.offered() if isinstance(t, McpTool))
        result = tool.run({"text": "x"}, _ctx(places))
        assert len(result.content) < 1_100_000 and "cut" in result.content
    finally:
        manager.close()


@pytest.mark.parametrize(("kind", "args", "timeout", "why"), [
    ("exit-at-start", (), 20.0, "exit status 3"),
    ("hang-initialize", (), 1.0, "no answer within 1 s"),
    ("malformed", (), 1.0, "not JSON-RPC|not an object"),
])
def test_a_server_that_cannot_start_is_reported_in_one_line(places: dict[str, Path], kind: str, args: tuple[str, ...],
                                                           timeout: float, why: str) -> None:
    told: list[str] = []
    manager = _manager(places, [_bad(kind, *args, timeout_s=timeout)], notify=told.append)
    manager.start()
    manager.wait(20)
    try:
        (status,) = manager.statuses()
        assert status.state == "failed" and re.search(why, status.detail), status
        assert len(told) == 1 and "\n" not in told[0] and re.search(why, told[0])
        assert manager.offered() == []
        assert kind.replace("-", "_") in manager.status()  # the model is told which server is missing
    finally:
        manager.close()


def test_a_slow_server_never_delays_start_and_its_tools_join_when_ready(places: dict[str, Path]) -> None:
    manager = _manager(places, [_bad("sleep-start", "1")])
    started = time.monotonic()
    manager.start()
    assert time.monotonic() - started < 0.5
    assert manager.offered() == [] and "still starting" in manager.status()
    tool = manager.find("mcp__sleep_start__echo")  # a call to it waits for it
    try:
        assert isinstance(tool, McpTool)
        assert [t.name for t in manager.offered()] == ["mcp__sleep_start__echo"]
    finally:
        manager.close()


def test_a_server_dying_mid_call_fails_that_call_and_is_marked_failed(places: dict[str, Path]) -> None:
    manager = _manager(places, [_bad("die-mid-call")])
    manager.start()
    manager.wait(20)
    try:
        with pytest.raises(McpError, match="die_mid_call.*exit status 7"):
            _tool(manager, "mcp__die_mid_call__echo").run({"text": "x"}, _ctx(places))
        assert manager.statuses()[0].state == "failed" and manager.offered() == []
    finally:
        manager.close()


def test_500_tools_are_deferred_behind_toolsearch_until_loaded(places: dict[str, Path]) -> None:
    manager = _manager(places, [_bad("tools-500")], context_window=200_000)
    manager.start()
    manager.wait(20)
    try:
        assert manager.statuses()[0].tools == 500
        offered = manager.offered()
        assert [t.name for t in offered] == ["ToolSearch"]
        search = offered[0]
        assert isinstance(search, ToolSearch)
        described = search.definition().description
        assert "server tools_500 (500 tools)" in described and len(described) < 6_000
        result = search.run({"query": "select:mcp__tools_500__tool_007,mcp__tools_500__nope"}, _ctx(places))
        assert "tool_007" in result.content and "not found: mcp__tools_500__nope" in result.content
        assert {t.name for t in manager.offered()} == {"ToolSearch", "mcp__tools_500__tool_007"}
        assert _tool(manager, "mcp__tools_500__tool_007").run({"text": "hi"}, _ctx(places)).content == "tool_007: hi"
        by_words = search.run({"query": "tool 499", "max_results": 1}, _ctx(places))
        assert by_words.content.count("\nmcp__tools_500__tool_") == 1 and "mcp__tools_500__tool_499\n" in by_words.content
        assert "mcp__tools_500__tool_499" in {t.name for t in manager.offered()}
    finally:
        manager.close()


def test_list_changed_brings_the_new_tool(places: dict[str, Path]) -> None:
    manager = _manager(places, [_server("lc", [*COMMAND, "listchanged"])])
    manager.start()
    manager.wait(30)
    try:
        before = {t.name for t in manager.offered()}
        first = next(iter(sorted(before)))
        _tool(manager, first).run({}, _ctx(places))
        deadline = time.monotonic() + 10
        while {t.name for t in manager.offered()} == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len({t.name for t in manager.offered()}) == len(before) + 1
    finally:
        manager.close()


def test_the_reference_servers_from_npm(places: dict[str, Path]) -> None:
    (places["ws"] / "hello.txt").write_text("hello from the workspace\n")
    manager = _manager(places, [_server("everything", everything_argv()),
                                _server("fs", filesystem_argv(places["ws"]))])
    manager.start()
    manager.wait(60)
    try:
        states = {s.name: (s.state, s.detail) for s in manager.statuses()}
        assert states == {"everything": ("connected", ""), "fs": ("connected", "")}
        echo = _tool(manager, "mcp__everything__echo").run({"message": "hi"}, _ctx(places))
        assert "hi" in echo.content
        read = _tool(manager, "mcp__fs__read_text_file").run({"path": str(places["ws"] / "hello.txt")}, _ctx(places))
        assert "hello from the workspace" in read.content
    finally:
        manager.close()


@pytest.mark.parametrize("kind", ["streamable", "sse"])
def test_remote_servers_over_both_http_transports(places: dict[str, Path], kind: str) -> None:
    from mcp_http_servers import McpHttpServer

    with McpHttpServer(kind) as remote:
        config = ServerConfig(name="remote", transport="http" if kind == "streamable" else "sse", scope="user",
                              source="test", url=remote.url, timeout_s=20)
        manager = _manager(places, [config])
        manager.start()
        manager.wait(20)
        try:
            assert manager.statuses()[0].state == "connected", manager.statuses()
            assert _tool(manager, "mcp__remote__add").run({"a": 2, "b": 40}, _ctx(places)).content == "42"
            cancel = threading.Event()
            threading.Timer(0.3, cancel.set).start()
            started = time.monotonic()
            with pytest.raises(McpError, match="interrupted"):  # Esc ends a call whose answer never comes
                _tool(manager, "mcp__remote__hang").run({}, _ctx(places, cancel))
            assert time.monotonic() - started < 5
            assert _tool(manager, "mcp__remote__echo").run({"text": "after"}, _ctx(places)).content == "after"
        finally:
            manager.close()


def test_a_program_under_tmp_is_named_as_invisible_to_the_sandbox(places: dict[str, Path]) -> None:
    import sys

    manager = _manager(places, [_server("lost", [sys.executable, "/tmp/ketch-no-such-dir/server.py"])])
    manager.start()
    manager.wait(20)
    try:
        (status,) = manager.statuses()
        assert status.state == "failed" and "/tmp/ketch-no-such-dir/server.py is under /tmp" in status.detail
    finally:
        manager.close()


def test_a_server_approved_before_start_is_started_once(places: dict[str, Path]) -> None:
    """The REPL approves a project's servers before its prompt is drawn, and starts the manager after."""
    manager = _manager(places, [])
    manager.add_and_start(_bad("sleep-start", "0"))
    assert manager.statuses()[0].state == "starting" and manager.servers["sleep_start"].thread is None
    manager.start()
    manager.wait(20)
    try:
        first = manager.servers["sleep_start"].thread
        manager.start()  # again: nothing new
        assert manager.servers["sleep_start"].thread is first
        assert manager.statuses()[0].state == "connected", manager.statuses()
    finally:
        manager.close()

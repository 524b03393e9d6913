"""`ketch mcp serve` as an MCP client sees it: the official SDK client against the real command.

Every call meets the run's gate and sandbox: what would ask a person is refused (naming the
rule that would allow it), protected paths are refused even in bypassPermissions, commands
run in the OS sandbox, and a cancelled call stops. A raw JSON-lines client checks what the
SDK never sends: malformed lines, unknown methods, answers withheld after a cancel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from harness import ketch_argv
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_wire import WireClient

SERVED = {"Bash", "Glob", "Grep", "Read", "Edit", "MultiEdit", "Write"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    return {**base, "HOME": str(home), "KETCH_HOME": str(tmp_path / "ketch-home"), "KETCH_KEYRING": "0"}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = (tmp_path / "project").resolve()
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha\nneedle here\nomega\n")
    return ws


def session(ws: Path, env: dict[str, str], tmp_path: Path, *flags: str):
    """Run `body(session)` against `ketch mcp serve FLAGS` in `ws`; its stderr goes to tmp_path/serve.log."""
    argv = ketch_argv() + ["mcp", "serve", *flags]
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=ws)

    def run(body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
        async def main(log: TextIO) -> Any:
            async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as client:
                info = await client.initialize()
                assert info.server_info.name == "ketch" and info.protocol_version == "2025-06-18"
                return await body(client)

        with open(tmp_path / "serve.log", "a") as log:
            return anyio.run(main, log)

    return run


async def call(client: ClientSession, name: str, **arguments: Any) -> tuple[str, bool]:
    result = await client.call_tool(name, arguments, read_timeout_seconds=60)
    return "".join(getattr(block, "text", "") for block in result.content), bool(result.is_error)


def test_lists_the_tools_reads_greps_and_globs(ws, env, tmp_path):
    async def body(client: ClientSession) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == SERVED
        assert tools["Read"].input_schema["properties"]["file_path"]["type"] == "string"
        assert tools["Read"].annotations is not None and tools["Read"].annotations.read_only_hint is True
        text, error = await call(client, "Read", file_path="notes.txt")
        assert not error and "needle here" in text and "omega" in text
        text, error = await call(client, "Grep", pattern="needle", output_mode="content")
        assert not error and "needle here" in text
        text, error = await call(client, "Glob", pattern="*.txt")
        assert not error and str(ws / "notes.txt") in text

    session(ws, env, tmp_path)(body)
    assert "serving Bash" in (tmp_path / "serve.log").read_text()


def test_an_edit_is_refused_in_default_mode_and_runs_with_accept_edits(ws, env, tmp_path):
    async def edit(client: ClientSession) -> tuple[str, bool]:
        await call(client, "Read", file_path="notes.txt")
        return await call(client, "Edit", file_path="notes.txt", old_string="alpha", new_string="beta")

    text, error = session(ws, env, tmp_path)(edit)
    assert error and "permission denied" in text
    assert "--allowedTools 'Edit(" in text and "--permission-mode acceptEdits" in text  # what to add to allow it
    assert (ws / "notes.txt").read_text().startswith("alpha")

    text, error = session(ws, env, tmp_path, "--permission-mode", "acceptEdits")(edit)
    assert not error, text
    assert (ws / "notes.txt").read_text().startswith("beta")


def test_bash_runs_in_the_sandbox_and_cannot_write_outside_the_workspace(ws, env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()

    async def body(client: ClientSession) -> tuple[str, bool]:
        return await call(client, "Bash", command=f"echo in > inside.txt; echo out > {outside}/o.txt; echo done")

    text, error = session(ws, env, tmp_path, "--permission-mode", "bypassPermissions")(body)
    assert not error and "done" in text, text
    assert (ws / "inside.txt").read_text() == "in\n"
    assert not (outside / "o.txt").exists()  # the gate let it through; the sandbox did not


def test_outside_and_protected_paths_are_refused(ws, env, tmp_path):
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not for the client")
    (ws / ".git" / "hooks").mkdir(parents=True)

    async def outside(client: ClientSession) -> tuple[str, bool]:
        return await call(client, "Read", file_path=str(secret))

    text, error = session(ws, env, tmp_path)(outside)
    assert error and "outside the working folder" in text and "not for the client" not in text
    assert f"--allowedTools 'Read(/{secret})'" in text  # the file: its folder holds the project

    async def protected(client: ClientSession) -> list[tuple[str, bool]]:
        return [await call(client, "Write", file_path=".git/hooks/pre-commit", content="#!/bin/sh\n"),
                await call(client, "Write", file_path=".ketch/settings.json", content="{}"),
                await call(client, "Write", file_path=str(tmp_path / "out.txt"), content="x")]

    hooks, settings, elsewhere = session(ws, env, tmp_path, "--permission-mode", "bypassPermissions")(protected)
    assert hooks[1] and "protected" in hooks[0]
    assert settings[1] and "protected" in settings[0]
    assert elsewhere[1] and "outside the writable folders" in elsewhere[0]
    assert not (ws / ".git" / "hooks" / "pre-commit").exists() and not (ws / ".ketch").exists()
    assert not (tmp_path / "out.txt").exists()


def test_a_cancelled_bash_call_stops(ws, env, tmp_path):
    async def body(client: ClientSession) -> tuple[str, bool]:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "Bash", {"command": "touch started; sleep 60; touch finished"})
            with anyio.fail_after(30):
                while not (ws / "started").exists():
                    await anyio.sleep(0.02)
            group.cancel_scope.cancel()  # the SDK tells the server: notifications/cancelled
        # Commands run one at a time: this one starts only once the sleep has been stopped.
        return await call(client, "Bash", command="echo after")

    started = time.monotonic()
    text, error = session(ws, env, tmp_path, "--allowedTools", "Bash")(body)
    assert not error and text.strip() == "after"
    assert time.monotonic() - started < 50  # well short of the 60 s sleep
    assert not (ws / "finished").exists()


# -- the raw wire ----------------------------------------------------------------------------


@pytest.fixture
def wire(ws, env):
    client = WireClient(ketch_argv() + ["mcp", "serve", "--allowedTools", "Bash"], cwd=str(ws), env=env)
    yield client
    client.close()


def test_raw_lines_malformed_unknown_and_negotiated(wire):
    wire.proc.stdin.write(b"this is not json\n")
    wire.proc.stdin.flush()
    parse_error = wire.next_line()
    assert parse_error["id"] is None and parse_error["error"]["code"] == -32700
    wire.send([1, 2])  # a batch of nonsense: dropped
    wire.send({"jsonrpc": "2.0", "result": {}})  # an answer to nothing: dropped
    old = wire.request("initialize", {"protocolVersion": "2024-11-05", "capabilities": {},
                                      "clientInfo": {"name": "raw", "version": "0"}})
    assert old["result"]["protocolVersion"] == "2024-11-05"
    assert old["result"]["capabilities"] == {"tools": {}} and old["result"]["serverInfo"]["name"] == "ketch"
    future = wire.request("initialize", {"protocolVersion": "2099-01-01", "capabilities": {}})
    assert future["result"]["protocolVersion"] == "2025-06-18"
    wire.notify("notifications/initialized")
    assert wire.request("ping")["result"] == {}
    assert wire.request("resources/list")["error"]["code"] == -32601
    unknown = wire.request("tools/call", {"name": "Nope", "arguments": {}})
    assert unknown["error"]["code"] == -32602 and "Read" in unknown["error"]["message"]
    bad_args = wire.request("tools/call", {"name": "Read", "arguments": ["x"]})
    assert bad_args["error"]["code"] == -32602
    invalid = wire.request("tools/call", {"name": "Read", "arguments": {"file_path": 3}})
    assert invalid["result"]["isError"] is True and "invalid arguments" in invalid["result"]["content"][0]["text"]
    assert wire.seen == []  # nothing was said on stdout but the answers


def test_raw_cancel_withholds_the_answer_and_eof_exits_cleanly(wire, ws):
    wire.initialize()
    slow = wire.start_request("tools/call", {"name": "Bash", "arguments": {"command": "touch started; sleep 60"}})
    deadline = time.monotonic() + 30
    while not (ws / "started").exists():
        assert time.monotonic() < deadline, wire.stderr
        time.sleep(0.02)
    wire.notify("notifications/cancelled", {"requestId": slow, "reason": "the person pressed Esc"})
    after = wire.request("tools/call", {"name": "Bash", "arguments": {"command": "echo after"}}, timeout=30)
    assert after["result"]["content"][0]["text"].strip() == "after"
    assert not [m for m in wire.seen if isinstance(m, dict) and m.get("id") == slow]  # no answer to the cancelled call
    wire.proc.stdin.close()
    assert wire.proc.wait(timeout=20) == 0


def test_eof_while_a_call_runs_stops_it_and_answers(wire, ws):
    wire.initialize()
    slow = wire.start_request("tools/call", {"name": "Bash", "arguments": {"command": "touch started; sleep 60"}})
    deadline = time.monotonic() + 30
    while not (ws / "started").exists():
        assert time.monotonic() < deadline, wire.stderr
        time.sleep(0.02)
    wire.proc.stdin.close()
    answer = wire.wait_for(slow, timeout=20)
    assert answer["result"]["isError"] is True and "cancelled" in answer["result"]["content"][0]["text"]
    assert wire.proc.wait(timeout=20) == 0


def test_start_up_imports_no_more_than_a_headless_run(tmp_path):
    code = ("import sys; from ketch.cli import mcp; mcp._parser(); import ketch.cli.tool_wiring, ketch.cli.wiring, "
            "ketch.ext.mcp.serve, ketch.ext.mcp.own_stdio; print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         check=True, env={**os.environ, "KETCH_HOME": str(tmp_path)}).stdout
    loaded = set(json.loads(out))
    assert not {"mcp", "anyio", "pydantic", "httpx", "rich", "prompt_toolkit"} & loaded

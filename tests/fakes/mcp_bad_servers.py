"""MCP servers that misbehave exactly, in plain Python over raw stdio JSON-RPC (no SDK).

The SDK would answer correctly whatever we asked of it, so each fault here is written by hand: one
shared loop (`serve`) reads newline-delimited JSON-RPC from stdin and answers what a well-behaved
one-tool server would, and each bad server overrides the one method it gets wrong. Nothing heavier
than the standard library is imported, so each starts in the time Python itself takes.

Run through tests/fakes/mcp_servers.py (`python3 tests/fakes/mcp_servers.py KIND`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

Message = dict[str, Any]
# A handler gets the request and returns its `result`, or None when it has answered (or decided not to).
Handler = Callable[[Message], "dict[str, Any] | None"]

# The versions a client may ask for; a server answers with the one asked for when it knows it.
KNOWN_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
ECHO_TOOL = {
    "name": "echo",
    "description": "Returns its text unchanged.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}


def write(message: Message, out: BinaryIO | None = None) -> None:
    stream = out or sys.stdout.buffer
    stream.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    stream.flush()


def write_raw(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def initialize_result(request: Message, name: str) -> dict[str, Any]:
    asked = (request.get("params") or {}).get("protocolVersion")
    return {
        "protocolVersion": asked if asked in KNOWN_VERSIONS else KNOWN_VERSIONS[-1],
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": name, "version": "0.0.1"},
    }


def text_result(text: str, *, is_error: bool = False) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


def echo_call(request: Message) -> dict[str, Any]:
    params = request.get("params") or {}
    if params.get("name") != "echo":
        return text_result(f"unknown tool: {params.get('name')!r}", is_error=True)
    return text_result(str((params.get("arguments") or {}).get("text", "")))


def serve(name: str, handlers: dict[str, Handler] | None = None) -> None:
    """The one loop: a one-tool (`echo`) server until stdin closes, with `handlers` replacing methods.

    Requests without a handler get -32601; notifications are read and dropped; a line that is not
    JSON gets a -32700 error with a null id, as the JSON-RPC spec says.
    """
    table: dict[str, Handler] = {
        "initialize": lambda r: initialize_result(r, name),
        "ping": lambda r: {},
        "tools/list": lambda r: {"tools": [ECHO_TOOL]},
        "tools/call": echo_call,
    }
    table.update(handlers or {})
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            write({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            continue
        if not isinstance(request, dict) or "method" not in request:
            continue  # a response to a request we never sent, or junk: nothing to answer
        if "id" not in request:
            continue  # a notification
        handler = table.get(request["method"])
        if handler is None:
            write({"jsonrpc": "2.0", "id": request["id"],
                   "error": {"code": -32601, "message": f"method not found: {request['method']}"}})
            continue
        result = handler(request)
        if result is not None:
            write({"jsonrpc": "2.0", "id": request["id"], "result": result})


def exit_at_start(argv: list[str]) -> None:
    """Exits 3 before reading anything, with a reason on stderr (a missing binary, a bad flag...)."""
    sys.stderr.write("exit-at-start: cannot open the database: no such file 'app.db'\n")
    sys.stderr.flush()
    sys.exit(3)


def hang_initialize(argv: list[str]) -> None:
    """Reads `initialize` and every later message, and never answers any of them.

    `--stubborn`: also ignores SIGTERM and the end of stdin, so only SIGKILL ends it (a client's
    close must escalate).
    """
    stubborn = "--stubborn" in argv
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.stderr.write("hang-initialize: ignoring SIGTERM and the end of stdin\n")
        sys.stderr.flush()
    for _line in sys.stdin.buffer:
        pass
    while stubborn:
        signal.pause()


def malformed(argv: list[str]) -> None:
    """Answers `initialize` with garbage: non-JSON lines, invalid UTF-8, JSON that is not JSON-RPC.

    Never a valid response with the request's id, to anything; it keeps reading until stdin closes.
    """
    def garbage(request: Message) -> None:
        write_raw(b"Starting server... done\n")
        write_raw(b"{not json at all\n")
        write_raw(b"\xff\xfe\x00 invalid utf-8 \xc3\x28\n")
        write({"hello": "world", "id": request.get("id")})  # has the id, but no jsonrpc/result/error
        write_raw(b"[1, 2, 3]\n")
        write({"jsonrpc": "1.0", "id": request.get("id"), "result": "wrong version"})

    serve("malformed", {"initialize": garbage, "tools/list": garbage, "tools/call": garbage, "ping": garbage})


def huge_result(argv: list[str]) -> None:
    """A well-formed tools/call result of 20 MB (`--mb N` to change), on one line, for any tool."""
    megabytes = float(_option(argv, "--mb", "20"))
    chars = int(megabytes * 1024 * 1024)

    def call(request: Message) -> dict[str, Any]:
        return text_result(("0123456789abcdef" * (chars // 16 + 1))[:chars])

    serve("huge-result", {"tools/call": call})


def tools_500(argv: list[str]) -> None:
    """500 tools (`--count N`), 50 to a page (`--page N`), each page but the last with a nextCursor."""
    count, page = int(_option(argv, "--count", "500")), int(_option(argv, "--page", "50"))
    tools = [{"name": f"tool_{i:03d}", "description": f"Tool number {i}: returns its text with its number.",
              "inputSchema": ECHO_TOOL["inputSchema"]} for i in range(count)]

    def list_tools(request: Message) -> dict[str, Any]:
        cursor = (request.get("params") or {}).get("cursor")
        start = int(cursor) if cursor is not None else 0
        result: dict[str, Any] = {"tools": tools[start:start + page]}
        if start + page < count:
            result["nextCursor"] = str(start + page)
        return result

    names = {tool["name"] for tool in tools}

    def call(request: Message) -> dict[str, Any]:
        params = request.get("params") or {}
        if params.get("name") not in names:
            return text_result(f"unknown tool: {params.get('name')!r}", is_error=True)
        return text_result(f"{params.get('name')}: {(params.get('arguments') or {}).get('text', '')}")

    serve("tools-500", {"tools/list": list_tools, "tools/call": call})


def die_mid_call(argv: list[str]) -> None:
    """Initializes and lists `echo`; exits 7 on any tools/call, the call never answered."""
    def die(request: Message) -> None:
        sys.stderr.write("die-mid-call: segmentation fault (pretend)\n")
        sys.stderr.flush()
        os._exit(7)

    serve("die-mid-call", {"tools/call": die})


def sleep_start(argv: list[str]) -> None:
    """Sleeps SECONDS before reading anything (a slow `npx -y` download), then a one-tool server."""
    if not argv:
        sys.exit("sleep-start needs SECONDS")
    time.sleep(float(argv[0]))
    serve("sleep-start")


def _option(argv: list[str], name: str, default: str) -> str:
    if name in argv and argv.index(name) + 1 < len(argv):
        return argv[argv.index(name) + 1]
    return default


KINDS: dict[str, Callable[[list[str]], None]] = {
    "exit-at-start": exit_at_start,
    "hang-initialize": hang_initialize,
    "malformed": malformed,
    "huge-result": huge_result,
    "tools-500": tools_500,
    "die-mid-call": die_mid_call,
    "sleep-start": sleep_start,
}

"""`ketch mcp serve`: ketch's own tools for any MCP client, behind the run's gate and sandbox.

Every tools/call takes the path of a call in a turn (`Dispatch.call`): the input checked
against the schema, the permission gate, the path checks again when the tool opens a
file, the OS sandbox for commands, redaction and trimming of the result. What the gate
would ask a person is refused, since nobody is there to answer; the refusal names the
rule that would allow it. A refusal is a tool result with isError, never a protocol error:
the client's model should read it. Calls that change files or run commands run one at a
time, each decided after the one before it ran, as in a turn; reads run beside them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.agent.dispatch import Approval, RefuseAll
from ketch.conversation import ToolUseBlock
from ketch.errors import McpError
from ketch.ext.mcp.jsonrpc import Connection, RequestHandler
from ketch.ext.mcp.transport import Message, Transport

if TYPE_CHECKING:
    from ketch.agent.events import PermissionRequest
    from ketch.agent.loop import Agent

SERVED = ("Bash", "Glob", "Grep", "Read", "Edit", "MultiEdit", "Write")  # TodoWrite is a turn's own list
PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")  # newest first: offered when the client's is unknown
_REQUEST_ID = "_ketchRequestId"  # where _Wire puts a tools/call's JSON-RPC id in its params (overwriting any)
_DRAIN_S = 5.0  # at the end, how long running calls get to stop after being cancelled


class NobodyToAsk(RefuseAll):
    """Headless refusal that remembers, per call, the rule a person could add to allow such calls."""

    def __init__(self, workspace: Path, home: Path) -> None:
        self.workspace, self.home = workspace, home
        self.hints: dict[str, str] = {}

    def __call__(self, request: PermissionRequest, /) -> Approval:
        from ketch.agent.permissions.offer import rule_for

        rule = rule_for(request.tool_name, request.input, self.workspace, self.home)
        how = f"--allowedTools '{rule}'" if rule is not None else "--allowedTools"
        if request.tool_name in ("Edit", "MultiEdit", "Write"):
            how += " or --permission-mode acceptEdits"
        self.hints[request.tool_use_id] = (f"\nketch mcp serve has nobody to ask for approval; to allow such calls, "
                                           f"start it with {how}, or add the rule to permissions.allow in settings.")
        return Approval(False, source="headless")


class ToolServer:
    """One client's session over `transport`: answers until the client closes the connection."""

    def __init__(self, agent: Agent, transport: Transport, log: Callable[[str], None] = lambda line: None) -> None:
        self.agent = agent
        self.log = log
        self.nobody = NobodyToAsk(agent.config.workspace, agent.config.gate.home)
        agent.set_approver(self.nobody)
        self.ended = threading.Event()
        self._running: dict[Any, threading.Event] = {}  # request id -> its cancel, until its answer is sent
        self._cancelled: set[Any] = set()  # ids whose answer is not sent (the client gave up on them)
        self._lock = threading.Condition()
        self._changing = threading.Lock()  # edits and commands, one at a time
        self._ids = itertools.count(1)
        handlers: dict[str, RequestHandler] = {"initialize": self._initialize, "tools/list": self._list, "tools/call": self._call}
        self.connection = Connection(_Wire(transport, self), handlers=handlers, on_notification=self._notified)

    def serve(self) -> None:
        """Answer until the client closes ketch's input; then stop what still runs, and send
        what it answers (a client that reads on after closing its end gets every answer)."""
        self.connection.open()
        self.ended.wait()
        with self._lock:
            for cancel in self._running.values():
                cancel.set()
            self._lock.wait_for(lambda: not self._running, timeout=_DRAIN_S)
        self.connection.close("the client closed the connection")

    # -- requests -----------------------------------------------------------------------------

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        from ketch import __version__

        asked = params.get("protocolVersion")
        version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        client = params.get("clientInfo")
        name = client.get("name") if isinstance(client, dict) else None
        self.log(f"client {str(name)[:80]!r} connected (protocol {version})")
        return {"protocolVersion": version, "capabilities": {"tools": {}},
                "serverInfo": {"name": "ketch", "version": __version__}}

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        tools = []
        for tool in self.agent.tools:
            face = tool.definition()
            entry: dict[str, Any] = {"name": face.name, "description": face.description,
                                     "inputSchema": face.input_schema}
            if tool.kind == "read":
                entry["annotations"] = {"readOnlyHint": True}
            tools.append(entry)
        return {"tools": tools}

    def _call(self, params: dict[str, Any]) -> dict[str, Any]:
        request_id = params.get(_REQUEST_ID)
        with self._lock:
            cancel = self._running.get(request_id) if request_id is not None else None
        return self._run(params, cancel or threading.Event())

    def _run(self, params: dict[str, Any], cancel: threading.Event) -> dict[str, Any]:
        name, arguments = params.get("name"), params.get("arguments")
        tool = self.agent.find_tool(name) if isinstance(name, str) else None
        if tool is None:
            raise McpError(f"unknown tool {name!r}: ketch serves {', '.join(t.name for t in self.agent.tools)}")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise McpError(f"the arguments of {name} must be a JSON object")
        call = ToolUseBlock(f"mcp-{next(self._ids)}", tool.name, arguments)
        with self._changing if tool.kind != "read" else nullcontext():
            if cancel.is_set():
                return _result("not run: the client cancelled the call", True)
            block = self.agent.dispatch.call(call, cancel)
        return _result(block.content + self.nobody.hints.pop(call.id, ""), block.is_error)

    # -- notifications and the wire -------------------------------------------------------------

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        if method != "notifications/cancelled":
            return  # notifications/initialized and the rest need nothing
        request_id = params.get("requestId")
        with self._lock:
            cancel = self._running.get(request_id) if _is_id(request_id) else None
            if cancel is not None:
                cancel.set()
                self._cancelled.add(request_id)

    def arrived(self, message: Any) -> None:
        """Before the Connection sees a message: a tools/call gets its cancel event now, in
        order, so a cancellation right behind it finds the call even before its thread runs."""
        if isinstance(message, list):
            for item in message:
                self.arrived(item)
            return
        if not (isinstance(message, dict) and message.get("method") == "tools/call"
                and _is_id(message.get("id")) and isinstance(message.get("params"), dict)):
            return
        message["params"][_REQUEST_ID] = message["id"]
        with self._lock:
            self._running[message["id"]] = threading.Event()

    def withheld(self, message: Message) -> bool:
        """The answer to a call the client cancelled is not sent (the specification asks so)."""
        if "method" in message or not _is_id(message.get("id")):
            return False
        with self._lock:
            self._running.pop(message["id"], None)
            self._lock.notify_all()
            if message["id"] in self._cancelled:
                self._cancelled.discard(message["id"])
                return True
        return False


class _Wire:
    """The Transport the Connection sees: `transport`, with the server looking at each message first."""

    def __init__(self, transport: Transport, server: ToolServer) -> None:
        self.transport, self.server = transport, server

    def open(self, deliver: Callable[[Message], None], closed: Callable[[str], None]) -> None:
        def incoming(message: Message) -> None:
            self.server.arrived(message)
            deliver(message)

        def ended(reason: str) -> None:
            closed(reason)
            self.server.ended.set()

        self.transport.open(incoming, ended)

    def send(self, message: Message) -> None:
        if not self.server.withheld(message):
            self.transport.send(message)

    def close(self) -> None:
        self.transport.close()


def _is_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _result(text: str, is_error: bool) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}

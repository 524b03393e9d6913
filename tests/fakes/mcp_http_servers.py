"""Real MCP servers over HTTP, built with the official SDK (`mcp`), each in its own process on 127.0.0.1.

    with McpHttpServer("streamable") as server:      # Streamable HTTP at server.url ("/mcp")
    with McpHttpServer("json") as server:            # stateless, JSON answers (json_response, stateless_http)
    with McpHttpServer("resumable") as server:       # events kept and replayed (Last-Event-ID), retry: 50 ms
    with McpHttpServer("sse") as server:             # the older HTTP+SSE transport at "/sse"

Tools: `add(a, b)`, `echo(text)`, `big(size)` (a result of `size` characters), `chatty(text)` (logs
a message on the answer stream first), `announce()` (a tools/list_changed notification sent outside
any request, so it travels on the GET stream), `hang()` (logs, then never answers:
kill() the server once the log message came, for a server dying mid-answer), `interrupted()` (cuts
its answer stream, then answers: a resumable server replays the answer after Last-Event-ID).
Hostile routes beside them, on the same server (`server.base + path`):
  /needs-auth          401 with a WWW-Authenticate challenge naming protected-resource metadata
  /echo-auth           500 whose body repeats the request's Authorization header
  /no-get              answers every request with an initialize result; GET is 405 (no server-sent stream)
  /moved               307 to /mcp (same origin)
  /away                307 to the same server under the name `localhost` (another origin)
  /endless-json        application/json that never ends
  /endless-sse         an event stream whose one data line never ends
  /sse-elsewhere       HTTP+SSE whose endpoint event names another origin
Runnable on its own: `python tests/fakes/mcp_http_servers.py streamable` prints its port, then serves.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations, and Context is local to _build.
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

AUTH_CHALLENGE = 'Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"'


class McpHttpServer:
    """Starts the server process; `url` is the MCP endpoint, `base` the origin. Stop with stop() or `with`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, __file__, kind], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # printed once the socket listens: connections queue from then on
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the {kind} MCP server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + ("/sse" if kind == "sse" else "/mcp")

    def kill(self) -> None:
        """Dies at once, as a crashed server does."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> "Self":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _build(kind: str, port: int) -> Any:
    from mcp.server.mcpserver import Context, MCPServer
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

    server = MCPServer("ketch-test-http")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Say it back."""
        return text

    @server.tool()
    def big(size: int) -> str:
        """A result of `size` characters."""
        return "x" * size

    @server.tool()
    async def chatty(text: str, ctx: Context) -> str:
        """Log first, then answer."""
        await ctx.info(f"about to echo {text}")
        return text

    @server.tool()
    async def announce(ctx: Context) -> str:
        """Tell the client the tool list changed, outside any request."""
        await ctx.session.send_tool_list_changed()
        return "announced"

    @server.tool()
    async def hang(ctx: Context) -> str:
        """Start answering, then never finish: the test kills the server once it saw the log message."""
        import anyio

        await ctx.info("hanging")
        await anyio.sleep_forever()
        return "never"

    @server.tool()
    async def interrupted(ctx: Context) -> str:
        """Log, cut the answer's stream, then answer: the answer reaches the client only by resuming."""
        await ctx.info("before the cut")
        await ctx.close_sse_stream()
        return "after the cut"

    @server.custom_route("/needs-auth", methods=["GET", "POST", "DELETE"])
    async def needs_auth(request: Request) -> Response:
        base = f"http://127.0.0.1:{port}"
        return JSONResponse({"error": "invalid_token"}, status_code=401,
                            headers={"WWW-Authenticate": AUTH_CHALLENGE.format(base=base)})

    @server.custom_route("/echo-auth", methods=["POST"])
    async def echo_auth(request: Request) -> Response:
        return Response(f"bad request\x1b[2J from {request.headers.get('authorization')}", status_code=500)

    @server.custom_route("/no-get", methods=["GET", "POST"])
    async def no_get(request: Request) -> Response:
        if request.method == "GET":
            return Response(status_code=405, headers={"Allow": "POST"})
        message = await request.json()
        if "id" not in message:
            return Response(status_code=202)
        result = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "no-get", "version": "0"}}
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})

    @server.custom_route("/moved", methods=["GET", "POST", "DELETE"])
    async def moved(request: Request) -> Response:
        return RedirectResponse("/mcp", status_code=307)

    @server.custom_route("/away", methods=["GET", "POST", "DELETE"])
    async def away(request: Request) -> Response:
        return RedirectResponse(f"http://localhost:{port}/mcp", status_code=307)

    async def endless(piece: bytes) -> Any:
        import anyio.lowlevel

        while True:
            await anyio.lowlevel.checkpoint()  # writes to a gone client do not yield: this loop would starve the server
            yield piece

    @server.custom_route("/endless-json", methods=["POST"])
    async def endless_json(request: Request) -> Response:
        return StreamingResponse(endless(b'"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' * 1024), media_type="application/json")

    @server.custom_route("/endless-sse", methods=["GET", "POST"])
    async def endless_sse(request: Request) -> Response:
        async def body() -> Any:
            yield b"event: message\ndata: "
            async for piece in endless(b"y" * 65536):
                yield piece
        return StreamingResponse(body(), media_type="text/event-stream")

    @server.custom_route("/sse-elsewhere", methods=["GET"])
    async def sse_elsewhere(request: Request) -> Response:
        async def body() -> Any:
            yield f"event: endpoint\ndata: http://localhost:{port}/messages/?session_id=x\n\n".encode()
            async for piece in endless(b": keep-alive\n\n"):
                import anyio

                await anyio.sleep(1)
                yield piece
        return StreamingResponse(body(), media_type="text/event-stream")

    if kind == "sse":
        return server.sse_app()
    if kind == "resumable":
        return server.streamable_http_app(event_store=_event_store(), retry_interval=50)
    if kind == "json":
        return server.streamable_http_app(json_response=True, stateless_http=True)
    return server.streamable_http_app()


def _event_store() -> Any:
    """Every event kept in memory, replayed after the one a client names (the SDK ships only the interface)."""
    from mcp.server.streamable_http import EventMessage, EventStore

    class MemoryEventStore(EventStore):
        def __init__(self) -> None:
            self.events: list[tuple[str, str, Any]] = []

        async def store_event(self, stream_id: str, message: Any) -> str:
            event_id = str(len(self.events) + 1)
            self.events.append((event_id, stream_id, message))
            return event_id

        async def replay_events_after(self, last_event_id: str, send_callback: Any) -> str | None:
            stream = next((s for e, s, _ in self.events if e == last_event_id), None)
            for event_id, stream_id, message in self.events[int(last_event_id):]:
                if stream_id == stream and message is not None:
                    await send_callback(EventMessage(message, event_id))
            return stream

    return MemoryEventStore()


def main(kind: str) -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = _build(kind, port)
    print(f"PORT {port}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on")).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])

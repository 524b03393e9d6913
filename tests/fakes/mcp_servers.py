"""Real MCP servers for the tests, over stdio: `python3 tests/fakes/mcp_servers.py KIND [options]`.

Built with the official SDK (`mcp` 2.3, where FastMCP is now `MCPServer`), so ketch's client is
tested against what servers really send:

    basic                 every feature a client must handle (see `basic` below)
    many N [--prefix P]   N tools with realistic schemas and ~300-byte descriptions (token budgets)
    listchanged           adds a tool after its first call and sends notifications/tools/list_changed

and servers that misbehave exactly, in plain Python with no SDK (tests/fakes/mcp_bad_servers.py):
exit-at-start, hang-initialize [--stubborn], malformed, huge-result [--mb N], tools-500,
die-mid-call, sleep-start SECONDS.

The SDK is imported only by the kinds that use it (about 0.9 s), so the bad servers start in the
time Python takes. `COMMAND` is the argv prefix tests start these with.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at run time, and the
# types they name (Context) are imported inside the functions that build each server.
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any


def _where_sandboxes_see_it() -> Path:
    """This script as a sandboxed server can run it. The sandbox gives servers a private /tmp, so a
    checkout under /tmp (a CI clone) is invisible to them: there the two fixture scripts are copied
    to ~/.cache/ketch-test-fixtures/ (read-only inside the sandbox, like every cache)."""
    here = Path(__file__).resolve()
    if not here.is_relative_to("/tmp"):
        return here
    import hashlib
    import shutil

    sources = [here, here.with_name("mcp_bad_servers.py")]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    folder = Path.home() / ".cache" / "ketch-test-fixtures" / digest
    if not (folder / here.name).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for source in sources:
            shutil.copyfile(source, folder / (source.name + ".part"))
            os.replace(folder / (source.name + ".part"), folder / source.name)
    return folder / here.name


SCRIPT = _where_sandboxes_see_it()
COMMAND = [sys.executable, str(SCRIPT)]
NOTE = "hello from note://hello"


def basic(argv: list[str]) -> None:
    """Tools, a resource, a resource template and a prompt, each probing one thing a client does.

    Tools: echo(text); add(a, b); read_note() marked readOnlyHint; slow(seconds) with a progress
    notification every 0.1 s (cancellable: it says on stderr how far it got); big(chars); fail()
    (an isError result); roots() (asks the client for its roots); ask() (an elicitation);
    write_file(path, text), env(), net(url): what the sandbox lets a server write, see and reach.
    """
    import anyio
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ToolAnnotations

    server = MCPServer("basic", version="1.0.0", instructions="A test server: every feature once.")

    @server.tool(description="Returns its text unchanged.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Adds two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Reads the note; changes nothing.", annotations=ToolAnnotations(read_only_hint=True))
    def read_note() -> str:
        return NOTE

    @server.tool(description="Waits SECONDS, reporting progress every 0.1 s; stops when cancelled.")
    async def slow(seconds: float, ctx: Context) -> str:
        ticks = max(1, round(seconds * 10))
        done = 0
        try:
            for done in range(1, ticks + 1):
                await anyio.sleep(0.1)
                await ctx.report_progress(done, ticks, f"tick {done} of {ticks}")
        except anyio.get_cancelled_exc_class():
            _say(f"slow: cancelled after {done} of {ticks} ticks")
            raise
        return f"slept {seconds} s in {ticks} ticks"

    @server.tool(description="Returns CHARS characters (0123456789 repeated).")
    def big(chars: int) -> str:
        return ("0123456789" * (chars // 10 + 1))[:chars]

    @server.tool(description="Always fails.")
    def fail() -> str:
        raise ToolError("fail: this tool always fails")

    @server.tool(description="Returns the roots the client sent, as JSON.")
    async def roots(ctx: Context) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated in 2026-07-28; the older versions have them
            result = await ctx.session.list_roots()
        return json.dumps([{"uri": str(r.uri), "name": r.name} for r in result.roots])

    @server.tool(description="Asks the person for a name (elicitation) and returns what came back, as JSON.")
    async def ask(ctx: Context) -> str:
        schema = {"type": "object", "properties": {"name": {"type": "string", "description": "Your name"}},
                  "required": ["name"]}
        result = await ctx.session.elicit_form("What is your name?", schema, ctx.request_id)
        return json.dumps({"action": result.action, "content": result.content})

    @server.tool(description="Writes TEXT to PATH; returns where it went or why it could not.")
    def write_file(path: str, text: str) -> str:
        try:
            target = Path(path)
            target.write_text(text)
            return f"wrote {len(text)} characters to {target.resolve()}"
        except OSError as exc:
            raise ToolError(f"write_file: {type(exc).__name__}: {exc}") from exc

    @server.tool(description="Returns the server's environment variables as a JSON object.")
    def env() -> str:
        return json.dumps(dict(os.environ), sort_keys=True)

    @server.tool(description="GETs URL; returns the HTTP status, or the error.")
    def net(url: str) -> str:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return f"status {response.status}"
        except urllib.error.HTTPError as exc:
            return f"status {exc.code}"
        except (OSError, ValueError) as exc:
            return f"error {type(exc).__name__}: {exc}"

    @server.resource("note://hello", name="hello", description="A short note.", mime_type="text/plain")
    def hello() -> str:
        return NOTE

    @server.resource("note://notes/{name}", name="note", description="The note called NAME.", mime_type="text/plain")
    def note(name: str) -> str:
        return f"the note called {name}"

    @server.prompt(description="Asks for a review of CODE.")
    def review(code: str) -> str:
        return f"Please review this code:\n\n{code}"

    server.run("stdio")


def many(argv: list[str]) -> None:
    """N tools (`many N [--prefix P]`) shaped like a real API server's: a few typed properties each."""
    if not argv or not argv[0].isdigit():
        sys.exit("usage: mcp_servers.py many N [--prefix P]")
    count = int(argv[0])
    prefix = argv[argv.index("--prefix") + 1] if "--prefix" in argv[:-1] else ""
    tools = many_tools(count, prefix)

    import mcp_types as types
    from mcp.server.lowlevel import Server

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in tools])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        text = f"{params.name} called with {json.dumps(params.arguments or {}, sort_keys=True)}"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    _run_lowlevel(Server(f"many-{count}", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool))


_VERBS = ("list", "get", "create", "update", "delete", "search", "archive", "assign", "comment_on", "export")
_NOUNS = ("issue", "pull_request", "repository", "branch", "release", "milestone", "label", "project",
          "workflow_run", "deployment", "webhook", "team", "discussion", "gist", "package")


def many_tools(count: int, prefix: str = "") -> list[dict[str, Any]]:
    """`count` distinct tools (verb_noun names), deterministic, each description about 300 bytes."""
    tools = []
    for i in range(count):
        verb, noun = _VERBS[i % len(_VERBS)], _NOUNS[(i // len(_VERBS)) % len(_NOUNS)]
        lap = i // (len(_VERBS) * len(_NOUNS))
        name = f"{prefix}{verb}_{noun}" + (f"_v{lap + 1}" if lap else "")
        thing = noun.replace("_", " ")
        description = (
            f"{verb.replace('_', ' ').capitalize()} a {thing} in the organisation's workspace. Use this when the "
            f"user asks about a {thing} by its number or name; results are paginated (per_page up to 100) and "
            f"sorted newest first. Requires read access to the owning repository; write actions need the "
            f"{noun}:write scope. Returns JSON; errors name the scope."
        )
        tools.append({
            "name": name,
            "description": description,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "owner": {"type": "string", "description": "Account that owns the repository"},
                    "repo": {"type": "string", "description": "Repository name without the owner"},
                    "number": {"type": "integer", "description": f"The {thing}'s number", "minimum": 1},
                    "state": {"type": "string", "enum": ["open", "closed", "all"], "default": "open"},
                    "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30},
                },
                "required": ["owner", "repo"],
            },
        })
    return tools


def listchanged(argv: list[str]) -> None:
    """Starts with `first`; its first tools/call adds `second` and sends notifications/tools/list_changed."""
    from mcp.server.lowlevel import NotificationOptions
    from mcp.server.mcpserver import Context, MCPServer

    server = MCPServer("listchanged", version="1.0.0")

    def second() -> str:
        return "second tool's answer"

    @server.tool(description="Returns 'first'; the first call adds the tool `second`.")
    async def first(ctx: Context) -> str:
        if not any(t.name == "second" for t in await server.list_tools()):
            server.add_tool(second, description="Added after the first call.")
            await ctx.session.send_tool_list_changed()
        return "first tool's answer"

    lowlevel = server._lowlevel_server  # the SDK's own server, run with listChanged advertised
    _run_lowlevel(lowlevel, lowlevel.create_initialization_options(NotificationOptions(tools_changed=True)))


def _run_lowlevel(server: Any, options: Any = None) -> None:
    import anyio
    from mcp.server.stdio import stdio_server

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, options or server.create_initialization_options())

    anyio.run(main)


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


SDK_KINDS = {"basic": basic, "many": many, "listchanged": listchanged}


def main(argv: list[str]) -> None:
    from mcp_bad_servers import KINDS as BAD_KINDS

    kinds = {**SDK_KINDS, **BAD_KINDS}
    if not argv or argv[0] not in kinds:
        sys.exit(f"usage: mcp_servers.py KIND [options]; KIND is one of: {', '.join(kinds)}")
    kinds[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])

"""MCP budgets (issue 12, DESIGN.md §6): run `python bench/mcp.py [--size] [--prompt] [--call]` from the repo root.

Needs pexpect, the `mcp` SDK (tests' servers and the direct client) and the npm reference server
(`tests/fakes/mcp_npm.py` says how to install it). With no flag it measures all three:

  --size    the whole request body the fake model server receives (its content-length), with 0
            servers and with server-everything + 4 SDK `many` servers, 100 tools in all, once
            every server is connected and before any tool is loaded. Servers connect in the
            background, so the first request usually goes before them: the fake model's first
            reply calls ToolSearch with a query that matches nothing (such a call waits for every
            starting server and loads nothing) and the second request is the one measured. With
            0 servers the same script makes ToolSearch an unknown tool, whose error result is of
            similar size. Also: what the 100 tools' full schemas would have added (computed, not
            sent: the same servers connected in process, encoded as httpx encodes a request).
  --prompt  time to the REPL prompt in an 80x24 pty (as bench/repl.py) with 3 sandboxed stdio
            servers configured, one of them sleeping 10 s before it answers, against no servers,
            alternating round by round (BENCH_RUNS rounds, default 15; the order flips each round).
  --call    one MCP tool call (the `basic` server's echo) through ketch — McpTool.run in process
            via an McpManager, the server sandboxed — against the official SDK client (`mcp`
            2.3: mcp.Client over StdioServerParameters) calling the same server directly, in
            alternating batches (BENCH_CALL_ROUNDS x BENCH_CALLS, default 10 x 50 calls each); and
            each side's start-up once per server (spawn, handshake, tools/list), alternating
            (BENCH_STARTS rounds, default 5).

Prints a Markdown table and exits 1 when a budget is missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import statistics
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/mcp.py` puts bench/ first on sys.path, where this file would shadow the SDK's `mcp`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
from fakeserver import FakeModelServer
from mcp_npm import everything_argv
from mcp_servers import COMMAND

MODEL = "claude-sonnet-4-5"
PROMPT = ">\x1b[0m"  # prompt_toolkit draws the prompt, then resets attributes (bench/repl.py)
NO_MATCH = "zzqxv"  # a ToolSearch query no tool's name or description contains

# Issue 12 / DESIGN.md §6.
REQUEST_BUDGET_KB = 20.0
PROMPT_BUDGET_MS = 50.0  # added to the time to the prompt by 3 servers, one of them slow
CALL_BUDGET_MS = 5.0  # added per tool call over the SDK client calling the server directly

# The 3 servers of the prompt benchmark: two SDK servers (about 1 s of CPU each to import the SDK) and one
# that sleeps 10 s before it answers.
PROMPT_SERVERS = {"basic": [*COMMAND, "basic"], "many": [*COMMAND, "many", "20"],
                  "sleepy": [*COMMAND, "sleep-start", "10"]}

Row = tuple[str, str, str, str, str, bool]  # what, budget, measured, floor, ratio/difference, within budget


def _env(home: str, server_url: str) -> dict[str, str]:
    """As bench/run.py: no credentials or ketch settings of the caller's, bytecode caching on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(KETCH_HOME=home, ANTHROPIC_BASE_URL=server_url, ANTHROPIC_API_KEY="sk-bench", TERM="xterm-256color")
    return env


def _ketch() -> str:
    exe = Path(sysconfig.get_path("scripts")) / "ketch"
    return str(exe) if exe.exists() else "ketch"


def _config(servers: dict[str, list[str]]) -> str:
    return json.dumps({"mcpServers": {name: {"command": argv[0], "args": argv[1:]} for name, argv in servers.items()}})


def _hundred_tools() -> dict[str, list[str]]:
    """server-everything (14 tools at the pinned version) and 4 `many` servers: 100 tools."""
    servers = {"everything": everything_argv()}
    for prefix, count in zip("abcd", (22, 22, 21, 21)):
        servers[f"many_{prefix}"] = [*COMMAND, "many", str(count), "--prefix", f"{prefix}_"]
    return servers


def _places(root: str) -> dict[str, Path]:
    out = {name: Path(root, name) for name in ("ws", "home", "ketch")}
    for path in out.values():
        path.mkdir()
    return out


def _manager(places: dict[str, Path], servers: dict[str, list[str]], sandboxed: bool = True) -> Any:
    from ketch.ext.mcp.config import ServerConfig
    from ketch.ext.mcp.manager import McpManager

    configs = [ServerConfig(name=name, transport="stdio", scope="user", source="bench", command=argv[0],
                            args=tuple(argv[1:]), timeout_s=60.0) for name, argv in servers.items()]
    args = {"workspace": places["ws"], "home": places["home"], "ketch_home": places["ketch"]}
    return McpManager(configs, workspace=places["ws"], sandbox_args=args if sandboxed else None)


# -- 1. request size ---------------------------------------------------------------------------


def _encoded(body: dict[str, Any]) -> int:
    """The bytes httpx sends for `json=body` (ketch posts with httpx's json=)."""
    import httpx

    return len(httpx.Request("POST", "http://127.0.0.1/", json=body).content)


def bench_size(tmp: str) -> tuple[list[Row], list[str]]:
    import subprocess

    rows: list[Row] = []
    notes: list[str] = []
    servers = _hundred_tools()
    second: dict[str, dict[str, Any]] = {}
    for label, mcp in (("0 servers", None), ("5 servers, 100 tools", servers)):
        fake = FakeModelServer([{"tool_calls": [{"name": "ToolSearch", "input": {"query": NO_MATCH}}]},
                                {"text": "done"}]).start()
        try:
            argv = [_ketch(), "--model", MODEL, "-p", "go", "--output-format", "json"]
            argv += ["--mcp-config", _config(mcp)] if mcp else []
            with tempfile.TemporaryDirectory(dir=tmp) as home, tempfile.TemporaryDirectory(dir=tmp) as cwd:
                done = subprocess.run(argv, check=False, env=_env(home, fake.url), cwd=cwd, stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True, timeout=180)
            if done.returncode != 0 or len(fake.requests) != 2:
                raise SystemExit(f"bench: ketch exited {done.returncode} after {len(fake.requests)} requests: "
                                 f"{done.stderr[-500:]}")
            first, req = fake.requests
        finally:
            fake.stop()
        body = req.body
        size = int(req.headers["content-length"])
        assert size == _encoded(body), (size, _encoded(body))  # what was measured is what httpx encodes
        names = [t["name"] for t in body.get("tools", [])]
        result = body["messages"][-1]["content"][-1]
        assert result.get("is_error"), result  # ToolSearch loaded nothing (or, with no servers, is unknown)
        if mcp:
            system = json.dumps(body.get("system"))
            assert "not available now" not in system, "a server was not connected at the second request"
            assert "ToolSearch" in names and not any(n.startswith("mcp__") for n in names), names
            assert all(f"server {name} (" in json.dumps(body["tools"]) or f"mcp__{name}__" in json.dumps(body["tools"])
                       for name in servers), "the ToolSearch catalog does not name every server"
        second[label] = body
        tools_kb = _encoded({"tools": body.get("tools", [])}) / 1000
        rows.append((f"second request, {label}, before any tool is loaded", f"≤ {REQUEST_BUDGET_KB:.0f} kB",
                     f"{size / 1000:.1f} kB", f"tools {tools_kb:.1f} kB",
                     f"first request: {int(first.headers['content-length']) / 1000:.1f} kB",
                     size / 1000 <= REQUEST_BUDGET_KB))

    with tempfile.TemporaryDirectory(dir=tmp) as root:
        manager = _manager(_places(root), servers)
        manager.start()
        manager.wait(120)
        try:
            states = {s.name: (s.state, s.tools) for s in manager.statuses()}
            tools = manager._live_tools()
        finally:
            manager.close()
    assert len(tools) == 100, states
    full = [{"name": d.name, "description": d.description, "input_schema": d.input_schema}
            for d in (t.definition() for t in tools)]
    schemas = _encoded({"tools": full}) - _encoded({"tools": []})
    with_servers = second["5 servers, 100 tools"]
    own = [t for t in with_servers["tools"] if t["name"] != "ToolSearch"]
    would_be = _encoded({**with_servers, "tools": own + full})
    notes.append(f"the 100 tools' full schemas (Anthropic wire format, computed from the same servers connected "
                 f"in process, not sent): {schemas / 1000:.1f} kB; that request with them instead of ToolSearch: "
                 f"{would_be / 1000:.1f} kB; per server: {states}")
    return rows, notes


# -- 2. time to the REPL prompt ----------------------------------------------------------------


def bench_prompt(tmp: str) -> tuple[list[Row], list[str]]:
    import pexpect

    runs = int(os.environ.get("BENCH_RUNS", "15"))
    servers = PROMPT_SERVERS
    fake = FakeModelServer([{"text": "ok"}], repeat_last=True).start()
    times: dict[str, list[float]] = {"none": [], "three": []}
    try:
        with tempfile.TemporaryDirectory(dir=tmp) as home, tempfile.TemporaryDirectory(dir=tmp) as cwd:
            env = _env(home, fake.url)
            argvs = {"none": ["--model", MODEL], "three": ["--model", MODEL, "--mcp-config", _config(servers)]}
            for i in range(runs + 1):  # round 0 warms the page cache and __pycache__; it is not counted
                for kind in (("none", "three") if i % 2 else ("three", "none")):
                    t0 = time.perf_counter()
                    child = pexpect.spawn(_ketch(), argvs[kind], env=env, dimensions=(24, 80), cwd=cwd)
                    child.expect_exact(PROMPT, timeout=30)
                    ready = time.perf_counter() - t0
                    child.sendcontrol("d")
                    child.expect(pexpect.EOF, timeout=30)
                    child.close()
                    if i:
                        times[kind].append(ready)
    finally:
        fake.stop()
    none, three = (statistics.median(times[k]) * 1000 for k in ("none", "three"))
    paired = statistics.median(b - a for a, b in zip(times["none"], times["three"])) * 1000
    rows: list[Row] = [(f"REPL prompt on screen, 3 sandboxed stdio servers (one sleeps 10 s at start), {runs} rounds",
                        f"≤ +{PROMPT_BUDGET_MS:.0f} ms", f"{three:.1f} ms", f"no servers: {none:.1f} ms",
                        f"+{three - none:.1f} ms ({three / none:.2f}×); paired rounds: +{paired:.1f} ms",
                        three - none <= PROMPT_BUDGET_MS)]
    spread = {k: f"{min(v) * 1000:.0f}–{max(v) * 1000:.0f} ms" for k, v in times.items()}
    return rows, [f"prompt times, min–max: no servers {spread['none']}, 3 servers {spread['three']}"]


# -- 3. a tool call: ketch vs the SDK client ---------------------------------------------------


class _SdkServer:
    """The SDK client on the `basic` server, in an asyncio loop in a thread of its own so that it can be
    driven in batches between ketch's (synchronous) ones. anyio wants the client entered and left in
    one task, so one task holds it and takes batches from a queue; each call is timed inside the
    loop, not across threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queue: asyncio.Queue[tuple[int, concurrent.futures.Future[list[float]]] | None] = \
            asyncio.run_coroutine_threadsafe(self._make_queue(), self.loop).result(10)
        self.started: concurrent.futures.Future[float] = concurrent.futures.Future()
        self.task = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        self.start_s = self.started.result(120)  # spawn, initialize, tools/list: as ketch's connect

    @staticmethod
    async def _make_queue() -> asyncio.Queue[Any]:
        return asyncio.Queue()

    async def _serve(self) -> None:
        from mcp import Client, StdioServerParameters

        client = Client(StdioServerParameters(command=COMMAND[0], args=[*COMMAND[1:], "basic"]), mode="legacy")
        t0 = time.perf_counter()
        try:
            async with client:
                await client.list_tools()
                self.started.set_result(time.perf_counter() - t0)
                while (item := await self.queue.get()) is not None:
                    n, done = item
                    done.set_result(await self._calls(client, n))
        except BaseException as exc:
            if not self.started.done():
                self.started.set_exception(exc)
            raise

    @staticmethod
    async def _calls(client: Any, n: int) -> list[float]:
        out = []
        for k in range(n):
            t0 = time.perf_counter()
            result = await client.call_tool("echo", {"text": f"hello {k}"})
            out.append(time.perf_counter() - t0)
            assert not result.is_error and result.content[0].text == f"hello {k}", result
        return out

    def calls(self, n: int) -> list[float]:
        done: concurrent.futures.Future[list[float]] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (n, done))
        return done.result(120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, None)
        self.task.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _ketch_start(places: dict[str, Path], sandboxed: bool) -> tuple[Any, float]:
    manager = _manager(places, {"basic": [*COMMAND, "basic"]}, sandboxed)
    t0 = time.perf_counter()
    manager.start()
    manager.wait(60)
    elapsed = time.perf_counter() - t0
    status = manager.statuses()[0]
    assert status.state == "connected" and status.sandboxed == sandboxed, status
    return manager, elapsed


def _ketch_calls(manager: Any, places: dict[str, Path], n: int) -> list[float]:
    from ketch.tools.base import SessionState, ToolContext

    tool = manager.find("mcp__basic__echo")
    ctx = ToolContext(workspace=places["ws"], state=SessionState(), runner=None, cancel=threading.Event())
    out = []
    for k in range(n):
        t0 = time.perf_counter()
        result = tool.run({"text": f"hello {k}"}, ctx)
        out.append(time.perf_counter() - t0)
        assert not result.is_error and result.content == f"hello {k}", result
    return out


def bench_call(tmp: str) -> tuple[list[Row], list[str]]:
    rounds = int(os.environ.get("BENCH_CALL_ROUNDS", "10"))
    calls = int(os.environ.get("BENCH_CALLS", "50"))
    starts_n = int(os.environ.get("BENCH_STARTS", "5"))
    places = _places(tempfile.mkdtemp(dir=tmp))
    starts: dict[str, list[float]] = {"sdk": [], "ketch": [], "ketch-unsandboxed": []}
    per_call: dict[str, list[float]] = {"sdk": [], "ketch": [], "ketch-unsandboxed": []}
    for i in range(starts_n + 1):  # round 0 warms the page cache; it is not counted
        sdk = _SdkServer()
        sdk.close()
        if i:
            starts["sdk"].append(sdk.start_s)
        for kind, sandboxed in (("ketch", True), ("ketch-unsandboxed", False)):
            manager, took = _ketch_start(places, sandboxed)
            manager.close()
            if i:
                starts[kind].append(took)
    sdk = _SdkServer()
    managers = {"ketch": _ketch_start(places, True)[0], "ketch-unsandboxed": _ketch_start(places, False)[0]}
    try:
        sdk.calls(20)  # warm-up, not counted
        for manager in managers.values():
            _ketch_calls(manager, places, 20)
        for _ in range(rounds):
            per_call["sdk"] += sdk.calls(calls)
            for kind, manager in managers.items():
                per_call[kind] += _ketch_calls(manager, places, calls)
    finally:
        sdk.close()
        for manager in managers.values():
            manager.close()
    med = {k: statistics.median(v) * 1000 for k, v in per_call.items()}
    start = {k: statistics.median(v) * 1000 for k, v in starts.items()}
    added = med["ketch"] - med["sdk"]
    rows: list[Row] = [
        (f"`basic` echo call through ketch (McpTool.run, sandboxed server), median of {rounds * calls}",
         f"≤ +{CALL_BUDGET_MS:.0f} ms", f"{med['ketch']:.2f} ms", f"SDK client direct: {med['sdk']:.2f} ms",
         f"{added:+.2f} ms ({med['ketch'] / med['sdk']:.2f}×)", added <= CALL_BUDGET_MS),
        ("the same call, server not sandboxed", "", f"{med['ketch-unsandboxed']:.2f} ms", "",
         f"{med['ketch-unsandboxed'] - med['sdk']:+.2f} ms", True),
        (f"server start once (spawn, initialize, tools/list), sandboxed, median of {starts_n}",
         "+ the sandbox's start", f"{start['ketch']:.1f} ms", f"SDK client: {start['sdk']:.1f} ms",
         f"{start['ketch'] - start['sdk']:+.1f} ms; unsandboxed {start['ketch-unsandboxed']:.1f} ms", True),
    ]
    p90 = {k: sorted(v)[int(len(v) * 0.9)] * 1000 for k, v in per_call.items()}
    return rows, ["per-call 90th percentile: " + ", ".join(f"{k} {v:.2f} ms" for k, v in p90.items()),
                  f"sandbox start (sandboxed − unsandboxed connect): {start['ketch'] - start['ketch-unsandboxed']:+.1f} ms"]


def main() -> int:
    parts: dict[str, Callable[[str], tuple[list[Row], list[str]]]] = {
        "--size": bench_size, "--prompt": bench_prompt, "--call": bench_call}
    chosen = [flag for flag in sys.argv[1:] if flag in parts] or list(parts)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ketch-bench-mcp-") as tmp:
        for flag in chosen:
            more_rows, more_notes = parts[flag](tmp)
            rows += more_rows
            notes += more_notes
    load = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} cores; load {load:.2f}")
    print("| what | budget | measured | against | difference | within budget |\n|---|---|---|---|---|---|")
    for *cells, ok in rows:
        print("| " + " | ".join(cells) + f" | {'yes' if ok else '**no**'} |")
    print()
    for note in notes:
        print(f"- {note}")
    missed = [row[0] for row in rows if not row[-1]]
    if missed:
        print(f"bench: budget missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

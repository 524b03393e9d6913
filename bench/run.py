"""ketch's benchmarks (DESIGN.md §6): run `python bench/run.py` from the repo root.

    python bench/run.py [--startup]

Start-up budgets are ratios to a floor measured in the same run, because a shared 2-core machine
moves absolute times by tens of percent from one minute to the next. Each round runs the floor
and then ketch, alternating, and the rows report medians of many rounds (BENCH_RUNS, default 40):
  - `ketch --version` against the floor `python -c pass`
  - a headless round trip, `ketch -p hi --output-format json`, against an instant fake model
    server on 127.0.0.1 (tests/fakes/fakeserver.py), against the floor of a bare
    `python -c "import httpx; httpx.post(...)"` posting one request to the same server
  - the peak RSS of that round trip (ru_maxrss from wait4)
  - where each round trip's time goes, on the fake server's clock: from the start of the process
    to its request, and from the end of the reply to the end of the process
Without --startup it also measures the fixed prompt overhead of the first request (system +
tools) and the harness time per tool turn (Read, Bash): from the end of the model's reply
carrying the tool call to the arrival of the next request carrying its result, on the wire.

Prints a Markdown table and exits 1 when any budget is missed, so a CI job can run it; the
numbers go into BENCHMARKS.md by hand, with the machine noted. bench/compare.py parses the
"measured" column.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
from fakeserver import FakeModelServer

RUNS = int(os.environ.get("BENCH_RUNS", "40"))
MODEL = "claude-sonnet-4-5"

# DESIGN.md §6.
VERSION_BUDGET = 1.7  # × `python -c pass`
ROUND_TRIP_BUDGET = 1.3  # × a bare httpx post to the same server
RSS_BUDGET_MIB = 35.0
PROMPT_BUDGET_KB = 20.0
READ_TURN_BUDGET_MS = 5.0
BASH_TURN_BUDGET_MS = 30.0

# The floor of a round trip: the interpreter, httpx, one streamed request to the same server.
# httpx's command-line client is kept out as ketch keeps it out (cli/run.py), so the floor does
# not grow by ~50 ms on a machine where click, rich and pygments happen to be installed.
HTTPX_FLOOR = (
    "import sys\n"
    "sys.modules['httpx._main'] = None\n"
    "import httpx\n"
    "r = httpx.post(sys.argv[1] + '/v1/messages', headers={'x-api-key': 'sk-bench', 'anthropic-version': '2023-06-01'},"
    " json={'model': sys.argv[2], 'max_tokens': 64, 'stream': True, 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
    "r.raise_for_status()\n"
    "sys.stdout.write(r.text)\n"
)


def ketch_argv() -> list[str]:
    """The installed `ketch` script beside this interpreter (not a version-manager shim)."""
    exe = Path(sysconfig.get_path("scripts")) / "ketch"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ketch")
    return [found] if found else [sys.executable, "-m", "ketch"]


@dataclass
class Run:
    """One process: wall and CPU (user + system) seconds, peak RSS in KiB (from wait4), stdout, and
    when it started and ended on the fake server's clock (time.perf_counter, this process)."""

    wall: float
    kib: int
    out: str
    cpu: float
    started: float
    ended: float


def timed_run(argv: list[str], env: dict[str, str], cwd: str) -> Run:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = proc.stdout.read()  # type: ignore[union-attr]
    err = proc.stderr.read()  # type: ignore[union-attr]
    _, status, rusage = os.wait4(proc.pid, 0)
    t1 = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    return Run(t1 - t0, rusage.ru_maxrss, out.decode(), rusage.ru_utime + rusage.ru_stime, t0, t1)


def base_env(home: str) -> dict[str, str]:
    """The caller's environment without credentials or ketch settings, and with bytecode caching on:
    an installed ketch runs from its `__pycache__`, and compiling every module from source on every
    start (PYTHONDONTWRITEBYTECODE=1, as some shells and CI set) would measure the compiler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["KETCH_HOME"] = home
    return env


@dataclass
class Pair:
    """One measurement against its floor, round by round, in seconds: wall time (the budget) and
    CPU time, which a busy machine moves less and so shows whether a change of ratio is real."""

    floor: list[float] = field(default_factory=list)
    ketch: list[float] = field(default_factory=list)
    floor_cpu: list[float] = field(default_factory=list)
    ketch_cpu: list[float] = field(default_factory=list)
    # A round trip split on the server's clock: start to request received, reply sent to exit.
    floor_split: list[tuple[float, float]] = field(default_factory=list)
    ketch_split: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ketch) / statistics.median(self.floor)

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.ketch_cpu) / statistics.median(self.floor_cpu)

    def add(self, floor: Run, ketch: Run) -> None:
        self.floor.append(floor.wall)
        self.ketch.append(ketch.wall)
        self.floor_cpu.append(floor.cpu)
        self.ketch_cpu.append(ketch.cpu)

    def split(self) -> str:
        """Where the time goes: before the request reaches the server, and after the reply left it."""
        def medians(pairs: list[tuple[float, float]]) -> str:
            before, after = (statistics.median(p[k] for p in pairs) * 1000 for k in (0, 1))
            return f"{before:.1f} ms to the request, {after:.1f} ms after the reply"
        return f"floor {medians(self.floor_split)}; ketch {medians(self.ketch_split)}"


@dataclass
class StartUp:
    version: Pair
    round_trip: Pair
    peak_kib: int
    fixed_bytes: int
    fixed_tokens: int


def bench_start_up(env: dict[str, str], cwd: str) -> StartUp:
    """`--version` vs `python -c pass` and a round trip vs a bare httpx post, alternating round by round."""
    server = FakeModelServer([{"text": "ok"}], repeat_last=True).start()
    env = {**env, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-bench"}
    python_pass = [sys.executable, "-c", "pass"]
    version = ketch_argv() + ["--version"]
    httpx_post = [sys.executable, "-c", HTTPX_FLOOR, server.url, MODEL]
    round_trip = ketch_argv() + ["--model", MODEL, "-p", "hi", "--output-format", "json"]
    versions, round_trips = Pair(), Pair()
    rss: list[int] = []
    try:
        for i in range(RUNS + 1):  # round 0 warms the page cache and __pycache__; it is not counted
            pass_run = timed_run(python_pass, env, cwd)
            version_run = timed_run(version, env, cwd)
            httpx_run = timed_run(httpx_post, env, cwd)
            httpx_request = server.requests[-1]
            assert "message_stop" in httpx_run.out, httpx_run.out
            ketch_run = timed_run(round_trip, env, cwd)
            ketch_request = server.requests[-1]
            assert json.loads(ketch_run.out)["result"] == "ok", ketch_run.out
            if i:
                versions.add(pass_run, version_run)
                round_trips.add(httpx_run, ketch_run)
                for run, request, split in ((httpx_run, httpx_request, round_trips.floor_split),
                                            (ketch_run, ketch_request, round_trips.ketch_split)):
                    split.append((request.received_at - run.started, run.ended - request.answered_at))
                rss.append(ketch_run.kib)
        first = next(r.body for r in server.requests if r.body.get("system"))
    finally:
        server.stop()
    fixed = json.dumps({"system": first["system"], "tools": first["tools"]})
    return StartUp(versions, round_trips, max(rss), len(fixed.encode()), len(fixed) // 4)


def bench_tool_turns(env: dict[str, str], cwd: str) -> dict[str, float]:
    Path(cwd, "sample.py").write_text("x = 1\n" * 200)
    per_tool: dict[str, list[float]] = {"Read": [], "Bash": []}
    calls = {"Read": {"file_path": "sample.py"}, "Bash": {"command": "true"}}
    for name, tool_input in calls.items():
        for _ in range(max(3, RUNS // 4)):
            server = FakeModelServer([{"tool_calls": [{"name": name, "input": tool_input}]},
                                      {"tool_calls": [{"name": name, "input": tool_input}]},
                                      {"tool_calls": [{"name": name, "input": tool_input}]},
                                      {"text": "done"}]).start()
            e = {**env, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-bench"}
            try:
                timed_run(ketch_argv() + ["--model", MODEL, "-p", "go", "--permission-mode",
                                          "bypassPermissions"], e, cwd)
                reqs = server.requests
                # skip the first tool turn (cold imports); keep the warm ones
                per_tool[name] += [reqs[i + 1].received_at - reqs[i].answered_at for i in (1, 2)]
            finally:
                server.stop()
    return {k: statistics.median(v) for k, v in per_tool.items()}


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def main() -> int:
    startup_only = "--startup" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as cwd:
        env = base_env(home)
        s = bench_start_up(env, cwd)
        turns = {} if startup_only else bench_tool_turns(env, cwd)
    peak_mib = s.peak_kib / 1024
    fixed_kb = s.fixed_bytes / 1000
    # (what, budget, measured, floor, ratio, within budget)
    rows = [
        ("`ketch --version`", f"≤ {VERSION_BUDGET}× floor", ms(s.version.ketch), f"`python -c pass`: {ms(s.version.floor)}",
         f"{s.version.ratio:.2f}× (CPU {s.version.cpu_ratio:.2f}×)", s.version.ratio <= VERSION_BUDGET),
        ("headless round trip (`-p hi --output-format json`, instant fake server)", f"≤ {ROUND_TRIP_BUDGET}× floor",
         ms(s.round_trip.ketch), f"bare httpx post: {ms(s.round_trip.floor)}",
         f"{s.round_trip.ratio:.2f}× (CPU {s.round_trip.cpu_ratio:.2f}×)",
         s.round_trip.ratio <= ROUND_TRIP_BUDGET),
        ("peak RSS of that run", f"≤ {RSS_BUDGET_MIB:.0f} MiB", f"{peak_mib:.1f} MiB", "", "", peak_mib <= RSS_BUDGET_MIB),
        ("first request, system + tools", f"≤ {PROMPT_BUDGET_KB:.0f} kB", f"{fixed_kb:.1f} kB", f"~{s.fixed_tokens} tokens",
         "", fixed_kb <= PROMPT_BUDGET_KB),
    ]
    if turns:
        rows += [
            ("harness time per tool turn: Read", f"≤ {READ_TURN_BUDGET_MS:.0f} ms", f"{turns['Read'] * 1000:.1f} ms",
             "", "", turns["Read"] * 1000 <= READ_TURN_BUDGET_MS),
            ("harness time per tool turn: sandboxed Bash (`true`)", f"≤ {BASH_TURN_BUDGET_MS:.0f} ms",
             f"{turns['Bash'] * 1000:.1f} ms", "", "", turns["Bash"] * 1000 <= BASH_TURN_BUDGET_MS),
        ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"rounds: {RUNS} (alternating, medians); python {sys.version.split()[0]}; {os.cpu_count()} cores; "
          f"load {load:.2f}")
    print("| what | budget | measured | floor | ratio | within budget |\n|---|---|---|---|---|---|")
    for *cells, ok in rows:
        print("| " + " | ".join(cells) + f" | {'yes' if ok else '**no**'} |")
    print(f"\nround trip, split on the fake server's clock (medians): {s.round_trip.split()}")
    missed = [row[0] for row in rows if not row[-1]]
    if missed:
        print(f"bench: budget missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

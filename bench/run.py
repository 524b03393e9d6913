"""ketch's benchmarks (DESIGN.md §6): run `python bench/run.py` from the repo root.

Measures, against an instant fake model server on 127.0.0.1 (tests/fakes/fakeserver.py):
  - `ketch --version` wall time (median of N runs)
  - a headless one-turn round trip: wall time and peak RSS of the ketch process
  - the fixed prompt overhead of the first request (system + tools): bytes and ~tokens
  - harness time per tool turn (Read, Bash): from the end of the model's reply carrying
    the tool call to the arrival of the next request carrying its result, seen on the wire
Prints a Markdown table; numbers go into BENCHMARKS.md by hand, with the machine noted.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakeserver import FakeModelServer

RUNS = int(os.environ.get("BENCH_RUNS", "20"))


def ketch_argv() -> list[str]:
    """The installed `ketch` script beside this interpreter (not a version-manager shim)."""
    exe = Path(sysconfig.get_path("scripts")) / "ketch"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ketch")
    return [found] if found else [sys.executable, "-m", "ketch"]


def timed_run(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in kB (from wait4), stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = proc.stdout.read()  # type: ignore[union-attr]
    proc.stderr.read()  # type: ignore[union-attr]
    _, status, rusage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited {proc.returncode}")
    return elapsed, rusage.ru_maxrss, out.decode()


def base_env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env["KETCH_HOME"] = home
    return env


def bench_version(env: dict[str, str], cwd: str) -> float:
    times = [timed_run(ketch_argv() + ["--version"], env, cwd)[0] for _ in range(RUNS)]
    return statistics.median(times)


def bench_round_trip(env: dict[str, str], cwd: str) -> tuple[float, int, int, int]:
    server = FakeModelServer([{"text": "ok"}], repeat_last=True).start()
    env = {**env, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-bench"}
    times, rss = [], []
    try:
        for _ in range(RUNS):
            t, kb, out = timed_run(ketch_argv() + ["--model", "claude-sonnet-4-5", "-p", "hi"], env, cwd)
            assert out.strip() == "ok", out
            times.append(t)
            rss.append(kb)
        first = server.requests[0].body
    finally:
        server.stop()
    fixed = json.dumps({"system": first["system"], "tools": first["tools"]})
    return statistics.median(times), max(rss), len(fixed.encode()), len(fixed) // 4


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
                timed_run(ketch_argv() + ["--model", "claude-sonnet-4-5", "-p", "go", "--permission-mode",
                                          "bypassPermissions"], e, cwd)
                reqs = server.requests
                # skip the first tool turn (cold imports); keep the warm ones
                per_tool[name] += [reqs[i + 1].received_at - reqs[i].answered_at for i in (1, 2)]
            finally:
                server.stop()
    return {k: statistics.median(v) for k, v in per_tool.items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as cwd:
        env = base_env(home)
        version = bench_version(env, cwd)
        rt, peak_kb, fixed_bytes, fixed_tokens = bench_round_trip(env, cwd)
        turns = bench_tool_turns(env, cwd)
    rows = [
        ("`--version`", "≤ 60 ms", f"{version * 1000:.0f} ms"),
        ("headless one-turn round trip (instant fake server)", "≤ 250 ms", f"{rt * 1000:.0f} ms"),
        ("peak memory of that run (RSS)", "≤ 60 MB", f"{peak_kb / 1024:.1f} MB"),
        ("first request, system + tools", "≤ 20 kB / ≤ 5k tokens", f"{fixed_bytes / 1000:.1f} kB / ~{fixed_tokens} tokens"),
        ("harness time per tool turn: Read", "≤ 10 ms", f"{turns['Read'] * 1000:.1f} ms"),
        ("harness time per tool turn: Bash (`true`)", "≤ 40 ms", f"{turns['Bash'] * 1000:.1f} ms"),
    ]
    print(f"runs per row: {RUNS}; python {sys.version.split()[0]}; {os.cpu_count()} cores")
    print("| what | budget | measured |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

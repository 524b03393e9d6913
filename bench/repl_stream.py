"""Streaming a 2,000-line answer in the REPL: `python bench/repl_stream.py` (needs pexpect).

The fake model server streams a 2,000-line markdown answer (plain prose, with bold words,
inline code and list items on every fourth line) as fast as it can; `ketch` draws it in an
80x24 pseudo-terminal. Times how long each quarter of 500 lines took to appear: rendering
that re-drew what was already printed would make the last quarter slower than the first.
Also reports the bytes written to the terminal per byte of answer. Prints a Markdown table.
"""

from __future__ import annotations

import os
import statistics
import sys
import sysconfig
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakeserver import FakeModelServer

PROMPT = ">\x1b[0m"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
LINES = 2000


def answer() -> str:
    rows = []
    for i in range(1, LINES + 1):
        if i % 4 == 0:
            rows.append(f"- item L{i:04d}: **bold words** and `inline_code()` in a list")
        else:
            rows.append(f"L{i:04d} plain prose in the long streamed answer, about sixty columns")
    return "\n".join(rows)


def one_run(env: dict[str, str], cwd: str) -> tuple[list[float], float]:
    exe = str(Path(sysconfig.get_path("scripts")) / "ketch")
    child = pexpect.spawn(exe, ["--model", "claude-sonnet-4-5"], env=env, dimensions=(24, 80), cwd=cwd)
    child.expect_exact(PROMPT, timeout=20)
    child.sendline("go")
    marks, seen, raw = [], b"", 0
    targets = [f"L{n:04d}".encode() for n in (1, 500, 1000, 1500, 2000)]  # from the first line on screen
    while targets:
        data = child.read_nonblocking(65536, timeout=60)
        raw += len(data)
        seen = seen[-64:] + data
        while targets and targets[0] in seen:
            marks.append(time.perf_counter())
            targets.pop(0)
    child.expect_exact(PROMPT, timeout=60)
    raw += len(child.before or b"")
    child.sendcontrol("d")
    child.expect(pexpect.EOF, timeout=10)
    quarters = [b - a for a, b in pairwise(marks)]
    return quarters, raw


def main() -> None:
    text = answer()
    server = FakeModelServer([{"text": text}], repeat_last=True).start()
    results: list[tuple[list[float], float]] = []
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as cwd:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_", "NO_COLOR"))}
        env.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-bench", KETCH_HOME=home,
                   TERM="xterm-256color")
        for _ in range(RUNS):
            results.append(one_run(env, cwd))
    server.stop()
    q = [statistics.median(r[0][i] for r in results) for i in range(4)]
    ratio = statistics.median(r[1] for r in results) / len(text.encode())
    print(f"runs: {RUNS}; python {sys.version.split()[0]}; {os.cpu_count()} cores; {len(text.encode()):,} bytes answer")
    print("| what | budget | measured |\n|---|---|---|")
    for i, name in enumerate(("lines 2-500", "lines 501-1000", "lines 1001-1500", "lines 1501-2000")):
        print(f"| {name} on screen | — | {q[i] * 1000:.0f} ms ({q[i] / 500 * 1e6:.0f} µs/line) |")
    print(f"| last 500 lines / first 500 lines | no slowdown (≈ 1×) | {q[3] / q[0]:.2f}× |")
    print(f"| bytes written to the terminal per byte of answer | — | {ratio:.2f} |")


if __name__ == "__main__":
    main()

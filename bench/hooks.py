"""Hooks budget (issue 13, DESIGN.md §6): run `python bench/hooks.py` from the repo root.

The harness time of one PreToolUse hook per tool call, the hook process aside: the loop's seam
(`HookBridge.pre_tool`: matching, Claude Code's JSON payload, the process started in its own
group with the credential-free environment, output read, the answer parsed and merged, the
events made) against starting the same command directly (`subprocess.Popen` + `communicate`
with the same payload), alternating in batches (BENCH_ROUNDS x BENCH_CALLS, default 10 x 40).
The hook is `true`; its tool input is a Write of 4 KB. Prints a Markdown table; exits 1 when
the difference per call is over the budget.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ketch.conversation import ToolUseBlock
from ketch.ext.hooks.bridge import HookBridge
from ketch.ext.hooks.config import HookCommand, HookSet
from ketch.ext.hooks.runner import shell

BUDGET_MS = 5.0
COMMAND = "true"


def main() -> int:
    rounds = int(os.environ.get("BENCH_ROUNDS", "10"))
    calls = int(os.environ.get("BENCH_CALLS", "40"))
    workspace = Path(tempfile.mkdtemp(prefix="ketch-bench-hooks-"))
    hooks = HookSet(active=[HookCommand("PreToolUse", "Write|Edit", COMMAND, 60.0, "bench", "user")])
    agent = SimpleNamespace(session_id="bench", config=SimpleNamespace(
        workspace=workspace, transcript_path=str(workspace / "t.jsonl"), gate=SimpleNamespace(mode="default"),
        model="m"))
    bridge = HookBridge(hooks, agent)
    call = ToolUseBlock("toolu_1", "Write", {"file_path": "a.py", "content": "x = 1\n" * 700})
    payload = json.dumps({"session_id": "bench", "hook_event_name": "PreToolUse", "tool_input": call.input}).encode()
    env = dict(os.environ)

    def through_ketch() -> None:
        answer = bridge.pre_tool(call)
        assert answer.events and answer.events[0].exit_code == 0

    def direct() -> None:
        proc = subprocess.Popen([shell(), "-c", COMMAND], cwd=workspace, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.communicate(payload)
        assert proc.returncode == 0

    ketch_ms: list[float] = []
    direct_ms: list[float] = []
    through_ketch(), direct()  # warm: imports, the environment
    for i in range(rounds):
        order = [(through_ketch, ketch_ms), (direct, direct_ms)]
        for fn, out in order if i % 2 == 0 else reversed(order):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            out.append((time.perf_counter() - t0) * 1000 / calls)
    k, d = statistics.median(ketch_ms), statistics.median(direct_ms)
    extra = k - d
    print("| what | per call |\n|---|---|")
    print(f"| PreToolUse hook through ketch (`{COMMAND}`) | {k:.2f} ms |")
    print(f"| the same process started directly | {d:.2f} ms |")
    print(f"| **harness time** (budget {BUDGET_MS:g} ms) | **{extra:.2f} ms** |")
    return 0 if extra <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

"""Cost of the OS sandbox per command: `python bench/sandbox.py` (needs bubblewrap).

Runs `true` and the Bash tool's `true` N times each through the sandbox and without it,
in a scratch workspace, and prints the medians as a Markdown table.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "50"))


def median_ms(fn) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm: probe, runtime folder, imports
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy, run_unsandboxed
    from ketch.tools.base import SessionState, ToolContext
    from ketch.tools.bash import BashTool

    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        ws, home = Path(scratch, "ws"), Path(scratch, "home")
        ws.mkdir()
        home.mkdir()
        sandbox = Sandbox(SandboxPolicy(workspace=ws, home=home, ketch_home=home / ".ketch"))
        rows = []
        for label, runner in (("sandboxed", sandbox), ("unsandboxed", run_unsandboxed)):
            raw = median_ms(lambda runner=runner: runner(["true"], cwd=ws, timeout_s=10))
            ctx = ToolContext(workspace=ws, state=SessionState(), runner=runner)
            tool = median_ms(lambda ctx=ctx: BashTool().run({"command": "true"}, ctx))
            rows.append((label, raw, tool))
        sandbox.close()
    print(f"runs: {RUNS}; python {sys.version.split()[0]}; {os.cpu_count()} cores")
    print("| runner | `true` | Bash tool `true` |\n|---|---|---|")
    for label, raw, tool in rows:
        print(f"| {label} | {raw:.1f} ms | {tool:.1f} ms |")


if __name__ == "__main__":
    main()

"""Subagent budget (issue 13, DESIGN.md §6): run `python bench/subagents.py` from the repo root.

What a `Task` launch costs beyond the child's model requests: TaskTool.run's wall time (the
factory building the child — its provider, config and tools —, the child's loop, nesting its
events, rolling its spend up) less the time the child spent inside its provider's stream (its
requests to the instant fake model server, which answers at once). In process, BENCH_RUNS
launches (default 50) after 5 warm-up ones; prints a Markdown row, exits 1 over budget.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
from fakeserver import FakeModelServer

BUDGET_MS = 20.0  # issue 13


def main() -> int:
    runs = int(os.environ.get("BENCH_RUNS", "50"))
    with FakeModelServer([{"text": "found it"}], repeat_last=True) as fake, tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-bench",
                           "KETCH_HOME": str(Path(tmp) / "home")})
        from ketch.cli.wiring import RunOptions, build_agent
        from ketch.tools.base import ToolContext

        workspace = Path(tmp) / "project"
        workspace.mkdir()
        agent = build_agent(RunOptions(workspace=workspace, model="claude-sonnet-4-5"))
        task = agent.dispatch.by_name["Task"]
        streamed = [0.0]
        make = task.factory

        def timed_factory(definition: Any, depth: int) -> Any:
            child = make(definition, depth)
            stream = child.provider.stream

            def timed(request: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    yield from stream(request)
                finally:
                    streamed[0] += time.perf_counter() - t0

            child.provider.stream = timed
            return child

        task.factory = timed_factory
        overheads, walls = [], []
        for i in range(runs + 5):
            streamed[0] = 0.0
            ctx = ToolContext(workspace=workspace, state=agent.state, runner=agent.runner,
                              cancel=threading.Event(), emit=lambda event: None, call_id=f"call{i}")
            t0 = time.perf_counter()
            result = task.run({"description": "find", "prompt": "find it", "subagent_type": "Explore"}, ctx)
            wall = time.perf_counter() - t0
            assert result.content.startswith("found it"), result.content
            if i >= 5:
                overheads.append((wall - streamed[0]) * 1000)
                walls.append(wall * 1000)
        agent.close()
    median = statistics.median(overheads)
    print("| what | budget | median | p90 | whole launch, request included (median) |\n|---|---|---|---|---|")
    p90 = statistics.quantiles(overheads, n=10)[-1]
    print(f"| Task launch beyond the child's model request | ≤ {BUDGET_MS:.0f} ms | {median:.2f} ms | {p90:.2f} ms "
          f"| {statistics.median(walls):.2f} ms |")
    return 0 if median <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

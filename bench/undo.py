"""Cost of an undo snapshot: `python bench/undo.py` (needs git).

Builds a scratch workspace of 2,000 small files (50 folders, a .gitignore), takes the
first snapshot, then times (median of N) a snapshot of the unchanged tree, a snapshot
after 10 files changed, and a whole turn's checkpoint pair (before + after + diff + log)
as the agent loop takes it, and the same pair for a turn that changed nothing. Prints a Markdown table.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
FILES = 2000


def build(ws: Path) -> list[Path]:
    paths = []
    for i in range(FILES):
        folder = ws / f"pkg{i % 50}"
        folder.mkdir(exist_ok=True)
        path = folder / f"mod{i}.py"
        path.write_text(f"VALUE = {i}\n" * 20)
        os.utime(path, (time.time() - 3600, time.time() - 3600))  # a real project's files are not brand new
        paths.append(path)
    (ws / ".gitignore").write_text("*.log\nbuild/\n")
    return paths


def median_ms(fn, before=None) -> float:  # type: ignore[no-untyped-def]
    times = []
    for n in range(RUNS):
        if before is not None:
            before(n)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    from ketch.agent.undo.checkpoints import make_checkpoints
    from ketch.agent.undo.shadow_store import ShadowStore

    with tempfile.TemporaryDirectory() as tmp:
        ws, home = Path(tmp) / "ws", Path(tmp) / "home"
        ws.mkdir()
        paths = build(ws)
        store = ShadowStore.for_workspace(ws, home)
        t0 = time.perf_counter()
        store.snapshot("first")
        first = (time.perf_counter() - t0) * 1000

        # A fresh store object per run, as a new ketch process would have (no in-memory tree).
        unchanged_cold = median_ms(lambda: ShadowStore.for_workspace(ws, home).snapshot("unchanged"))
        unchanged = median_ms(lambda: store.snapshot("unchanged"))

        def touch10(n: int) -> None:
            for p in paths[n * 10:(n + 1) * 10]:
                p.write_text(f"changed {n}\n")

        changed10 = median_ms(lambda: store.snapshot("10 changed"), before=touch10)

        checkpoints = make_checkpoints(ws, home, lambda text: text)
        calls = [("Edit", {"file_path": "pkg0/mod0.py"})]

        def turn() -> None:
            pending = checkpoints.begin("bench", 1, 1, calls)
            for p in paths[:10]:
                p.write_text(f"turn {time.perf_counter_ns()}\n")
            checkpoints.finish(pending)  # type: ignore[arg-type]

        whole_turn = median_ms(turn)

        def quiet_turn() -> None:  # a command that changes nothing (tests, grep, git status)
            checkpoints.finish(checkpoints.begin("bench", 1, 1, [("Bash", {"command": "true"})]))  # type: ignore[arg-type]

        quiet = median_ms(quiet_turn)

    print(f"| undo snapshot, {FILES} small files (median of {RUNS}) | ms |")
    print("|---|---|")
    print(f"| first snapshot (store created, every file hashed) | {first:.1f} |")
    print(f"| unchanged tree, new process's store object | {unchanged_cold:.1f} |")
    print(f"| unchanged tree, same store object | {unchanged:.1f} |")
    print(f"| 10 files changed | {changed10:.1f} |")
    print(f"| a turn's checkpoint: before + after snapshots, diff, log (10 files written) | {whole_turn:.1f} |")
    print(f"| a turn's checkpoint when the tools changed nothing | {quiet:.1f} |")


if __name__ == "__main__":
    sys.exit(main())

"""Everyday coding tasks for a local model, side by side across harnesses (issue 16).

    python bench/local_tasks.py --verify
    python bench/local_tasks.py [--harness ketch-embedded|ketch-server|aider|all] [--out FILE.jsonl]

Each task (local_task_list.py, local_task_held.py) is a fresh git repository under /var/tmp
whose tests fail, and a request in a user's words. Solved means the test files are byte-identical
to the committed ones and `python -m pytest` passes (local_check.py). --verify needs no model: it
checks every task's tests fail as given and pass after the task's reference fix (~10 s).

The model runs are not part of CI: they need `ketch[local]` and the model installed (`ketch models
install qwen2.5-coder-1.5b`), ~40 s per task and harness on 2 cores; the harnesses are described
in local_harnesses.py. `--harness all` runs every harness on a task before the next task, the order
rotating from task to task, so a change in the machine's load falls on all of them alike. Reports,
per harness: solved (tune, held-out), median seconds, total tokens (where the harness reports
them), and the load average (os.getloadavg) at the run's start and end and at each run's start.
A Markdown table goes to stdout, one JSON object per run and per harness to --out (default
/var/tmp/ketch-bench-local-DATE.jsonl), for BENCHMARKS.md.

Environment: BENCH_MODEL (qwen2.5-coder-1.5b), BENCH_SPLIT=tune|held-out|all (all),
BENCH_ONLY=name,name, BENCH_TIMEOUT (600 s a run), BENCH_MAX_TURNS (unset: ketch's own bounds, as
the issue's command line), BENCH_CHAT_FORMAT (the server's), BENCH_KEEP=1 keeps the workspaces.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_check import check, make_repo, verify
from local_harnesses import Aider, Harness, KetchEmbedded, KetchServer, LlamaServer
from local_task import Task
from local_task_held import HELD_OUT
from local_task_list import TUNE

TASKS = TUNE + HELD_OUT
HARNESSES = ("ketch-embedded", "ketch-server", "aider")
MODEL = os.environ.get("BENCH_MODEL", "qwen2.5-coder-1.5b")


def split_of(task: Task) -> str:
    return "held-out" if task.held_out else "tune"


def selected() -> list[Task]:
    split = os.environ.get("BENCH_SPLIT", "all")
    if split not in ("tune", "held-out", "all"):
        sys.exit(f"BENCH_SPLIT={split!r}: use tune, held-out or all")
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    unknown = only - {t.name for t in TASKS}
    if unknown:
        sys.exit(f"BENCH_ONLY names no task called {', '.join(sorted(unknown))}")
    return [t for t in TASKS if (split == "all" or split_of(t) == split) and (not only or t.name in only)]


def run_verify(tasks: list[Task]) -> int:
    names = [t.name for t in TASKS]
    problems = [f"two tasks are called {n!r}" for n in sorted({n for n in names if names.count(n) > 1})]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        verdicts = list(pool.map(verify, tasks))
    for task, why in zip(tasks, verdicts):
        print(f"{'ok  ' if why is None else 'FAIL'} [{split_of(task)}] {task.name} ({task.kind})"
              + (f": {why}" if why else ""))
        if why:
            problems.append(task.name)
    held = sum(t.held_out for t in tasks)
    print(f"{len(tasks) - len(problems)}/{len(tasks)} tasks sound ({len(tasks) - held} tune, {held} held-out)")
    return 1 if problems else 0


def _git_head() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() or "?"


def _harnesses(choice: str, server: LlamaServer) -> list[Harness]:
    every: list[Harness] = [KetchEmbedded(MODEL), KetchServer(server), Aider(server)]
    return [h for h in every if choice in ("all", h.name)]


def run_models(tasks: list[Task], choice: str, out: Path) -> None:
    from ketch.localmodels.cache import resolve

    gguf, _entry = resolve(MODEL)
    server = LlamaServer(gguf, MODEL, out.with_suffix(".server.log"))
    harnesses = _harnesses(choice, server)
    rows: list[dict[str, Any]] = []
    load_start = tuple(round(x, 2) for x in os.getloadavg())
    with out.open("a") as jsonl:
        jsonl.write(json.dumps({"type": "run", "model": MODEL, "gguf": str(gguf), "commit": _git_head(),
                                "started": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(),
                                "python": sys.version.split()[0], "harnesses": [h.name for h in harnesses],
                                "loadavg_start": load_start}) + "\n")
        try:
            for i, task in enumerate(tasks):
                shift = i % len(harnesses)
                for harness in harnesses[shift:] + harnesses[:shift]:
                    row = _one(task, harness)
                    rows.append(row)
                    jsonl.write(json.dumps(row) + "\n")
                    jsonl.flush()
                    print(f"[{i + 1}/{len(tasks)}] {harness.name} · {task.name}: {'ok' if row['ok'] else 'FAIL'} "
                          f"in {row['seconds']:.1f} s {row['note']}", file=sys.stderr, flush=True)
        finally:
            server.stop()
        load_end = tuple(round(x, 2) for x in os.getloadavg())
        summaries = [_summary(h.name, [r for r in rows if r["harness"] == h.name]) for h in harnesses]
        for summary in summaries:
            jsonl.write(json.dumps(summary | {"loadavg_start": load_start, "loadavg_end": load_end}) + "\n")
    _report(tasks, harnesses, rows, summaries, load_start, load_end, out)


def _one(task: Task, harness: Harness) -> dict[str, Any]:
    ws = make_repo(task)
    try:
        load = round(os.getloadavg()[0], 2)
        outcome = harness.run(task, ws)
        timed_out = outcome.failure.startswith("timed out")
        why = outcome.failure if timed_out else check(task, ws)
        if why and outcome.failure and not timed_out:
            why = f"{why} ({outcome.failure})"
        return {"type": "task", "harness": harness.name, "task": task.name, "kind": task.kind,
                "split": split_of(task), "ok": why is None, "seconds": round(outcome.seconds, 1),
                "tokens": outcome.tokens, "turns": outcome.turns, "load1": load, "note": why or ""}
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept {ws}", file=sys.stderr)
        else:
            shutil.rmtree(ws, ignore_errors=True)


def _summary(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def solved(split: str) -> list[int]:
        mine = [r for r in rows if r["split"] == split]
        return [sum(r["ok"] for r in mine), len(mine)]

    tokens = [r["tokens"] for r in rows if r["tokens"] is not None]
    loads = [r["load1"] for r in rows]
    return {"type": "summary", "harness": name, "tune": solved("tune"), "held_out": solved("held-out"),
            "median_seconds": round(statistics.median(r["seconds"] for r in rows), 1) if rows else None,
            "total_tokens": sum(tokens) if tokens else None,
            "load1_range": [min(loads), max(loads)] if loads else None}


def _report(tasks: list[Task], harnesses: list[Harness], rows: list[dict[str, Any]],
            summaries: list[dict[str, Any]],
            load_start: tuple[float, ...], load_end: tuple[float, ...], out: Path) -> None:
    names = [h.name for h in harnesses]
    by = {(r["task"], r["harness"]): r for r in rows}
    print(f"model: {MODEL}; {os.cpu_count()} cores; python {sys.version.split()[0]}; ketch {_git_head()}")
    print("\n| task | split | kind | " + " | ".join(names) + " |\n|---|---|---|" + "---|" * len(names))
    for task in tasks:
        cells = []
        for name in names:
            r = by[(task.name, name)]
            cells.append(f"{'yes' if r['ok'] else 'no'}, {r['seconds']:.0f} s" +
                         (f" ({r['note'].replace('|', '/')[:60]})" if r["note"] else ""))
        print(f"| {task.name} | {split_of(task)} | {task.kind} | " + " | ".join(cells) + " |")
    print("\n| harness | solved, tune | solved, held-out | median s | total tokens | load (1 min) at run starts |")
    print("|---|---|---|---|---|---|")
    for s in summaries:
        lo, hi = s["load1_range"] or (0, 0)
        print(f"| {s['harness']} | {s['tune'][0]}/{s['tune'][1]} | {s['held_out'][0]}/{s['held_out'][1]} | "
              f"{s['median_seconds']} | {s['total_tokens'] if s['total_tokens'] is not None else '-'} | "
              f"{lo:.2f}–{hi:.2f} |")
    fmt = ", ".join
    print(f"\nload average (1, 5, 15 min): start {fmt(f'{x:.2f}' for x in load_start)}; "
          f"end {fmt(f'{x:.2f}' for x in load_end)}. JSON lines: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Everyday coding tasks for a local model, side by side.")
    parser.add_argument("--verify", action="store_true", help="check every task against its reference fix (no model)")
    parser.add_argument("--harness", choices=(*HARNESSES, "all"), default="ketch-embedded")
    parser.add_argument("--out", type=Path, help="JSON lines file (default /var/tmp/ketch-bench-local-DATE.jsonl)")
    args = parser.parse_args()
    tasks = selected()
    if args.verify:
        sys.exit(run_verify(tasks))
    if not tasks:
        sys.exit("no task selected")
    out = args.out or Path(f"/var/tmp/ketch-bench-local-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    run_models(tasks, args.harness, out)


if __name__ == "__main__":
    main()

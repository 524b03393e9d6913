"""The cost of a change, as a ratio to the code before it, measured in the same run.

    python bench/compare.py REV [ROUNDS] [--startup]

Exports REV's `src/` (e.g. the commit before a change) into a temporary folder (`git archive`:
no worktree, nothing shared with other checkouts changes) and runs this checkout's
`bench/run.py` for it and for this checkout alternately, ROUNDS times each (default 3), with
PYTHONPATH pointing the installed `ketch` script at each tree's `src/`. A shared or busy
machine moves absolute numbers by tens of percent between minutes; alternating rounds and
reporting the ratio of medians keeps the comparison honest (DESIGN.md §6).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| (?P<what>[^|]+?) \| [^|]* \| (?P<value>[0-9.]+) (?P<unit>ms|MiB|MB)"
                 r"(?: \| [^|]* \| (?P<ratio>[0-9.]+)×)?")


def run_bench(tree: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), BENCH_RUNS=os.environ.get("BENCH_RUNS", "10"))
    # run.py exits 1 when a budget is missed: the numbers are still what this compares.
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), *sys.argv[3:]], env=env, cwd=tree,
                         capture_output=True, text=True, check=False).stdout
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            rows[m["what"]] = float(m["value"])
            if m["ratio"]:
                rows[f"{m['what']}: ratio to its floor"] = float(m["ratio"])
    if not rows:
        raise SystemExit(f"compare: bench/run.py printed no rows for {tree}")
    return rows


def main() -> None:
    rev = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="ketch-bench-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        samples: dict[str, dict[str, list[float]]] = {"base": {}, "now": {}}
        for _ in range(rounds):
            for name, tree in (("base", base), ("now", ROOT)):
                for what, value in run_bench(tree).items():
                    samples[name].setdefault(what, []).append(value)
    print(f"{rounds} alternating rounds of bench/run.py {' '.join(sys.argv[3:])}; base = {rev}")
    print("| what | base (median) | now (median) | now / base |")
    print("|---|---|---|---|")
    for what, values in samples["now"].items():
        before = samples["base"].get(what)
        if not before:
            continue
        b, n = statistics.median(before), statistics.median(values)
        print(f"| {what} | {b:.2f} | {n:.2f} | {n / b:.2f}x |" if "ratio" in what else
              f"| {what} | {b:.1f} | {n:.1f} | {n / b:.2f}x |")


if __name__ == "__main__":
    main()

"""The README's first command, timed: `python bench/readme_run.py` from the repo root.

Runs the last step of README.md's `# run:` line (the `ketch -p ...` part, exactly as written,
in the repo root) after its install steps have been done once (`ketch[local]` and the model).
Not part of CI: it takes minutes on 2 cores.

- cold: no prefix state on disk for this model and prompt (the KV cache folder of a fresh
  ketch home is empty; the model file is linked in, already verified and build-checked, and
  likely in the page cache: the README's `models install` just read it);
- warm: the same command again, the prefix state saved by the cold run on disk.

For each run: seconds from start to the first byte of the answer on stdout (the first token the
person sees; the model's first reply, a Read call, is not shown), to the end, the process's peak
memory, and the prompt tokens the run evaluated vs took from a cache (a separate `--output-format
json` run would change nothing but the printing; the counts come from the session transcript).
BENCH_RUNS sets the number of warm runs (default 2, the median is printed).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_run_step() -> list[str]:
    text = (ROOT / "README.md").read_text()
    line = re.search(r"# run:.*\n(.*)\n", text)
    assert line, "README.md has no # run: line"
    return shlex.split(line.group(1).split("&&")[-1])


def _link_models(home: Path) -> None:
    source = Path(os.environ.get("KETCH_HOME") or Path.home() / ".ketch")
    (home / "models").mkdir(parents=True)
    for f in (source / "models").iterdir():
        if f.is_file() and not f.name.startswith("."):
            os.link(f, home / "models" / f.name) if f.suffix == ".gguf" else shutil.copy2(f, home / "models" / f.name)
    checks = source / "cache" / "llama-check"
    if checks.is_dir():
        shutil.copytree(checks, home / "cache" / "llama-check")


def _usage(home: Path) -> dict[str, int]:
    """Token counts summed over the run's requests, from its transcript."""
    totals = {"input_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "output_tokens": 0}
    for path in (home / "projects").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            usage = json.loads(line).get("usage") if line.startswith("{") else None
            if isinstance(usage, dict):
                for k in totals:
                    totals[k] += int(usage.get(k) or 0)
    return totals


def one_run(argv: list[str], home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETCH_")} | {"KETCH_HOME": str(home)}
    for old in (home / "projects").glob("*") if (home / "projects").exists() else []:
        shutil.rmtree(old)
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    first_at = time.monotonic() - start
    rest = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    answer = (first + rest).decode("utf-8", "replace").strip()
    return {"rc": proc.returncode, "first": first_at if first else None, "end": end,
            "rss_mb": usage.ru_maxrss / 1024, "answer": answer, "stderr": stderr[-500:], "tokens": _usage(home)}


def main() -> int:
    step = readme_run_step()
    if step[:3] == ["python3", "-m", "ketch"]:
        step = [sys.executable, "-m", "ketch", *step[3:]]
    runs = int(os.environ.get("BENCH_RUNS", "2"))
    print(f"command: {shlex.join(step)}\nmachine: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ketch-bench-home-", dir="/var/tmp") as tmp:
        home = Path(tmp)
        _link_models(home)
        results = [("cold", one_run(step, home))]
        results += [(f"warm {i + 1}", one_run(step, home)) for i in range(runs)]
    print("\n| run | rc | first answer byte (s) | answer done (s) | peak RSS (MB) | prompt tokens evaluated / from cache |")
    print("|---|---|---|---|---|---|")
    for name, r in results:
        t = r["tokens"]
        evaluated = t["input_tokens"] + t["cache_creation_input_tokens"]
        first = f"{r['first']:.1f}" if r["first"] is not None else "-"
        print(f"| {name} | {r['rc']} | {first} | {r['end']:.1f} | {r['rss_mb']:.0f} | "
              f"{evaluated} / {t['cache_read_input_tokens']} |")
    warm = [r for name, r in results if name.startswith("warm")]
    if warm:
        print(f"\nwarm median: first answer byte {statistics.median(r['first'] or 0 for r in warm):.1f} s, "
              f"answer done {statistics.median(r['end'] for r in warm):.1f} s")
    for name, r in results:
        print(f"\n{name} answer: {r['answer'][:400]}")
        if r["rc"] != 0:
            print(f"{name} stderr: {r['stderr']}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

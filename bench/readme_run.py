"""The README's first command, timed: `python bench/readme_run.py` from the repo root.

Runs the last step of README.md's `# run:` line (the `ketch -p ...` part, exactly as written,
in the repo root) after its install steps have been done once (`ketch[local]` and the model).
Not part of CI: it takes minutes on 2 cores.

- cold: no prefix state on disk for this model and prompt (the KV cache folder of a fresh
  ketch home is empty; the model file is linked in, already verified and build-checked, and
  likely in the page cache: the README's `models install` just read it);
- warm: the same command again, the prefix state saved by the cold run on disk.

For each run, with `--output-format stream-json` added (the README's text mode prints only the final
answer, at the end, as Claude Code's -p does): seconds from start to the model's first reply (its
Read call: model load, the prompt, ~17 generated tokens; what the prefix cache shortens) and to the
answer, the process's peak memory, and the prompt tokens evaluated vs taken from a cache (the
result's usage). BENCH_RUNS sets the number of warm runs (default 2); BENCH_MODEL=NAME runs
local:NAME instead of the README's model.
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


def one_run(argv: list[str], home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETCH_")} | {"KETCH_HOME": str(home)}
    start = time.monotonic()
    proc = subprocess.Popen(argv + ["--output-format", "stream-json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first, result, turns = None, {}, 0
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("type") == "assistant":
            turns += 1
            first = first if first is not None else time.monotonic() - start
        elif event.get("type") == "result":
            result = event
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.monotonic() - start
    tokens = result.get("usage") or {}
    return {"rc": os.waitstatus_to_exitcode(status), "first": first, "end": end, "turns": turns,
            "rss_mb": usage.ru_maxrss / 1024, "answer": str(result.get("result") or ""),
            "stderr": proc.stderr.read()[-500:], "evaluated": int(tokens.get("input_tokens") or 0)
            + int(tokens.get("cache_creation_input_tokens") or 0), "cached": int(tokens.get("cache_read_input_tokens") or 0)}


def main() -> int:
    step = readme_run_step()
    if step[:3] == ["python3", "-m", "ketch"]:
        step = [sys.executable, "-m", "ketch", *step[3:]]
    if os.environ.get("BENCH_MODEL"):
        step = [f"local:{os.environ['BENCH_MODEL']}" if a.startswith("local:") else a for a in step]
    runs = int(os.environ.get("BENCH_RUNS", "2"))
    print(f"command: {shlex.join(step)}\nmachine: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ketch-bench-home-", dir="/var/tmp") as tmp:
        home = Path(tmp)
        _link_models(home)
        results = [("cold", one_run(step, home))]
        results += [(f"warm {i + 1}", one_run(step, home)) for i in range(runs)]
    print("\n| run | rc | turns | first reply (s) | answer (s) | peak RSS (MB) | prompt tokens evaluated / from cache |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results:
        first = f"{r['first']:.1f}" if r["first"] is not None else "-"
        print(f"| {name} | {r['rc']} | {r['turns']} | {first} | {r['end']:.1f} | {r['rss_mb']:.0f} | "
              f"{r['evaluated']} / {r['cached']} |")
    warm = [r for name, r in results if name.startswith("warm")]
    if warm:
        print(f"\nwarm median: first reply {statistics.median(r['first'] or 0 for r in warm):.1f} s, "
              f"answer {statistics.median(r['end'] for r in warm):.1f} s")
    for name, r in results:
        print(f"\n{name} answer: {r['answer'][:400]}")
        if r["rc"] != 0:
            print(f"{name} stderr: {r['stderr']}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

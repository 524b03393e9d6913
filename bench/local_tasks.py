"""Ten tiny coding tasks for the embedded local model: run `python bench/local_tasks.py` from the repo root.

Not part of CI: it needs `ketch[local]` and the model installed (`ketch models install
qwen2.5-coder-1.5b`, into $KETCH_HOME or ~/.ketch) and takes several minutes on 2 cores.

Each task gets a fresh workspace under /var/tmp (the sandbox gives commands a private /tmp) and
one real headless run:
    ketch -p TASK --model local:MODEL --output-format json --max-turns 8 --permission-mode acceptEdits
then a deterministic check on the workspace or on the JSON result. Records success, wall seconds
and turns per task; prints a Markdown table and a summary line. BENCH_MODEL picks another model,
BENCH_ONLY=name1,name2 runs a subset. Numbers go into BENCHMARKS.md by hand, with the machine noted.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ketch_argv

MODEL = os.environ.get("BENCH_MODEL", "qwen2.5-coder-1.5b")
TIMEOUT = 600  # seconds per task; a stuck run counts as a failure

Check = Callable[[Path, dict], "str | None"]  # returns None on success, else why it failed


@dataclass
class Task:
    name: str
    prompt: str
    files: dict[str, str]
    check: Check


def py(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ws, capture_output=True, text=True, timeout=60, check=False)


def result_text(result: dict) -> str:
    return str(result.get("result") or "")


# --- the checks --------------------------------------------------------------------------------

def check_secret(ws: Path, result: dict) -> str | None:
    return None if "PELICAN" in result_text(result).upper() else f"answer: {result_text(result)[:60]!r}"


def check_test_passes(test: str) -> Check:
    def check(ws: Path, result: dict) -> str | None:
        proc = py(ws, test)
        return None if proc.returncode == 0 else f"{test} exits {proc.returncode}"
    return check


def check_rename(ws: Path, result: dict) -> str | None:
    util, main = (ws / "util.py").read_text(), (ws / "main.py").read_text()
    if "def say_hello(" not in util:
        return "no `def say_hello` in util.py"
    if "greet" in util or "greet" in main:
        return "`greet` still present"
    proc = py(ws, "main.py")
    return None if proc.returncode == 0 and "Hello, Ada!" in proc.stdout else "main.py no longer prints the greeting"


def check_import(ws: Path, result: dict) -> str | None:
    proc = py(ws, "hyp.py")
    return None if proc.returncode == 0 and proc.stdout.strip() == "5.0" else f"hyp.py: rc {proc.returncode}, {proc.stdout.strip()!r}"


def check_created(ws: Path, result: dict) -> str | None:
    path = ws / "hello.txt"
    if not path.exists():
        return "hello.txt missing"
    text = path.read_text()
    return None if text.strip() == "hello world" else f"content {text[:40]!r}"


def check_count(ws: Path, result: dict) -> str | None:
    text = result_text(result)
    return None if re.findall(r"\d+", text) == ["7"] else f"answer: {text[:60]!r}"


def check_which_file(ws: Path, result: dict) -> str | None:
    text = result_text(result)
    others = [f for f in ("helpers.py", "app.py", "models.py") if f in text]
    return None if "settings.py" in text and not others else f"answer: {text[:60]!r}"


def check_constant(ws: Path, result: dict) -> str | None:
    proc = py(ws, "-c", "import config; print(config.TIMEOUT, config.RETRIES)")
    return None if proc.stdout.split() == ["60", "3"] else f"config: {proc.stdout.strip() or proc.stderr.strip()[-60:]!r}"


def check_docstring(ws: Path, result: dict) -> str | None:
    try:
        tree = ast.parse((ws / "shapes.py").read_text())
    except SyntaxError:
        return "shapes.py no longer parses"
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if "area" not in funcs or not (ast.get_docstring(funcs["area"]) or "").strip():
        return "no docstring on area"
    proc = py(ws, "-c", "import shapes; print(shapes.area(3, 4))")
    return None if proc.stdout.strip() == "12" else "area() behaviour changed"


# --- the tasks -----------------------------------------------------------------------------------

TASKS = [
    Task("answer from a file",
         "What is the secret word in notes.txt? Answer with the word only.",
         {"notes.txt": "Meeting notes, Tuesday.\nThe secret word is PELICAN.\nBring snacks.\n"},
         check_secret),
    Task("fix a one-line bug",
         "test_calc.py fails. Fix the bug in calc.py so that `python3 test_calc.py` passes.",
         {"calc.py": "def add(a, b):\n    return a - b\n",
          "test_calc.py": "from calc import add\n\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\nprint('ok')\n"},
         check_test_passes("test_calc.py")),
    Task("rename a function everywhere",
         "Rename the function `greet` to `say_hello` in util.py and in main.py (definition and every call).",
         {"util.py": "def greet(name):\n    return f\"Hello, {name}!\"\n",
          "main.py": "from util import greet\n\nprint(greet(\"Ada\"))\n"},
         check_rename),
    Task("add a missing import",
         "hyp.py fails with a NameError. Add the missing import so that `python3 hyp.py` prints 5.0.",
         {"hyp.py": "print(math.sqrt(3 ** 2 + 4 ** 2))\n"},
         check_import),
    Task("create a file",
         "Create a file named hello.txt containing exactly the text: hello world",
         {},
         check_created),
    Task("count lines of a file",
         "How many lines does data.txt have? Answer with the number only.",
         {"data.txt": "".join(f"{fruit}\n" for fruit in
                              ("apple", "banana", "cherry", "date", "elderberry", "fig", "grape"))},
         check_count),
    Task("find which file defines X",
         "Which file defines the function `parse_config`? Answer with the file name only.",
         {"helpers.py": "def slugify(s):\n    return s.lower().replace(' ', '-')\n",
          "app.py": "from settings import parse_config\n\ncfg = parse_config('app.ini')\n",
          "settings.py": "def parse_config(path):\n    return {'path': path}\n",
          "models.py": "class User:\n    pass\n"},
         check_which_file),
    Task("fix an off-by-one",
         "test_total.py fails. Fix the off-by-one bug in total.py so that `python3 test_total.py` passes.",
         {"total.py": "def sum_to(n):\n    \"\"\"1 + 2 + ... + n\"\"\"\n    return sum(range(1, n))\n",
          "test_total.py": "from total import sum_to\n\nassert sum_to(3) == 6\nassert sum_to(10) == 55\nprint('ok')\n"},
         check_test_passes("test_total.py")),
    Task("change a constant",
         "In config.py, change TIMEOUT from 30 to 60. Change nothing else.",
         {"config.py": "# service settings\nTIMEOUT = 30\nRETRIES = 3\n"},
         check_constant),
    Task("add a docstring",
         "Add a one-line docstring to the function `area` in shapes.py. Do not change its code.",
         {"shapes.py": "def area(width, height):\n    return width * height\n"},
         check_docstring),
]


def run_task(task: Task, env: dict[str, str]) -> dict:
    ws = Path(tempfile.mkdtemp(prefix="ketch-bench-", dir="/var/tmp"))
    try:
        for rel, text in task.files.items():
            (ws / rel).write_text(text)
        argv = ketch_argv() + ["-p", task.prompt, "--model", f"local:{MODEL}", "--output-format", "json",
                               "--max-turns", "8", "--permission-mode", "acceptEdits"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=ws, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=TIMEOUT, check=False)
            out, rc = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired:
            out, rc = "", -1
        seconds = time.perf_counter() - t0
        result: dict = {}
        for line in out.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("type") == "result":
                result = obj
        if rc == -1:
            why: str | None = f"timed out after {TIMEOUT} s"
        elif not result:
            why = f"no JSON result (exit {rc}): {(proc.stderr.strip().splitlines() or [''])[-1][:80]}"
        else:
            why = task.check(ws, result)
        return {"task": task.name, "ok": why is None, "seconds": seconds, "turns": result.get("num_turns", "-"),
                "note": why or "", "subtype": result.get("subtype", "-")}
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    if os.environ.get("KETCH_HOME"):
        env["KETCH_HOME"] = os.environ["KETCH_HOME"]
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    tasks = [t for t in TASKS if not only or t.name in only]
    rows = []
    for i, task in enumerate(tasks, 1):
        row = run_task(task, env)
        rows.append(row)
        print(f"[{i}/{len(tasks)}] {task.name}: {'ok' if row['ok'] else 'FAIL'} in {row['seconds']:.1f} s, "
              f"{row['turns']} turns {row['note']}", file=sys.stderr, flush=True)
    print(f"model: local:{MODEL}; python {sys.version.split()[0]}; {os.cpu_count()} cores")
    print("| # | task | success | seconds | turns | note |\n|---|---|---|---|---|---|")
    for i, row in enumerate(rows, 1):
        print(f"| {i} | {row['task']} | {'yes' if row['ok'] else 'no'} | {row['seconds']:.1f} | {row['turns']} | "
              f"{row['note'].replace('|', '/')} |")
    times = [r["seconds"] for r in rows]
    passed = sum(r["ok"] for r in rows)
    print(f"\n{passed}/{len(rows)} tasks passed ({100 * passed / len(rows):.0f}%); "
          f"median {statistics.median(times):.1f} s per task, total {sum(times):.0f} s")


if __name__ == "__main__":
    main()

"""Workspaces and the verdict for bench/local_tasks.py: a task's repository, and whether it is solved.

Solved means: every test file byte-identical to the committed one, the task's kept text (a
doctest's example) still there, and the test command exiting 0. The tests run with plugin
autoload off (PYTEST_DISABLE_PLUGIN_AUTOLOAD): this machine's pytest-benchmark and hypothesis
plugins cost ~0.9 s a run and no task uses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

from local_task import Task

TEST_ARGS = ("-m", "pytest", "-q", "-x", "-p", "no:cacheprovider")
GIT_ID = ("-c", "user.name=bench", "-c", "user.email=bench@localhost")


def test_command() -> list[str]:
    return [sys.executable, *TEST_ARGS]


def test_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def is_test_path(rel: str) -> bool:
    """A test file, as the tasks lay them out: test_*.py, *_test.py, anything under tests/."""
    path = PurePosixPath(rel)
    return (path.parts[0] == "tests" or path.name.startswith("test_") or path.name.endswith("_test.py")
            or path.name == "conftest.py")


def make_repo(task: Task) -> Path:
    """A fresh git repository with the task's files committed, under /var/tmp (ketch's sandbox gives
    commands a private /tmp, so a workspace there would not be the one the bench checks)."""
    ws = Path(tempfile.mkdtemp(prefix="ketch-bench-", dir="/var/tmp"))
    for rel, text in task.files.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text, encoding="utf-8")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], [*GIT_ID, "commit", "-q", "-m", "the task"]):
        subprocess.run(["git", *argv], cwd=ws, check=True, capture_output=True)
    return ws


def run_tests(ws: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(test_command(), cwd=ws, env=test_env(), capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(test_command(), -1, "", f"tests timed out after {timeout} s")


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[-1][:100] if lines else f"exit {proc.returncode}"


def check(task: Task, ws: Path) -> str | None:
    """None when the task is solved in ws, else why not, in a few words."""
    for rel, text in task.files.items():
        if is_test_path(rel):
            path = ws / rel
            if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
                return f"test file {rel} changed"
    for rel, text in task.keep:
        path = ws / rel
        if not path.is_file() or text not in path.read_text(encoding="utf-8", errors="replace"):
            return f"{rel} lost {text.splitlines()[0].strip()!r}"
    proc = run_tests(ws)
    return None if proc.returncode == 0 else f"tests fail: {_last_line(proc)}"


def apply_fix(task: Task, ws: Path) -> None:
    for rel, old, new in task.fix:
        path = ws / rel
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise ValueError(f"{task.name}: the reference fix expects {old!r} in {rel}")
        path.write_text(text.replace(old, new), encoding="utf-8")


def verify(task: Task) -> str | None:
    """None when the task is sound: its tests fail as given, its reference fix leaves the test files
    alone, and after that fix they pass."""
    if any(is_test_path(rel) for rel, _old, _new in task.fix):
        return "the reference fix edits a test file"
    if not any(is_test_path(rel) for rel in task.files):
        return "no test file"
    ws = make_repo(task)
    try:
        before = run_tests(ws)
        if before.returncode == 0:
            return "the tests pass before the fix"
        try:
            apply_fix(task, ws)
        except ValueError as exc:
            return str(exc)
        why = check(task, ws)
        return None if why is None else f"after the reference fix: {why}"
    finally:
        shutil.rmtree(ws, ignore_errors=True)

"""bench/local_tasks.py's tasks are sound, checked without a model: each task's tests fail as given
and pass after its reference fix, and the verdict catches a solution that edits the tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import local_check
        import local_task_held
        import local_task_list

        yield local_check, local_task_list, local_task_held
    finally:
        sys.path.remove(str(BENCH))


def test_verify_passes_for_every_task_and_half_are_held_out():
    proc = subprocess.run([sys.executable, str(BENCH / "local_tasks.py"), "--verify"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = re.search(r"^(\d+)/(\d+) tasks sound \((\d+) tune, (\d+) held-out\)$", proc.stdout, re.MULTILINE)
    assert summary, proc.stdout
    sound, total, tune, held = map(int, summary.groups())
    assert sound == total >= 20
    assert abs(tune - held) <= 1


def _task(bench, name):
    _check, tasks, held = bench
    return next(t for t in tasks.TUNE + held.HELD_OUT if t.name == name)


def test_a_solution_that_edits_the_test_is_not_solved(bench):
    local_check = bench[0]
    task = _task(bench, "calc add")
    ws = local_check.make_repo(task)
    try:
        test = ws / "test_calc.py"
        test.write_text(test.read_text().replace("== 5", "== -1").replace("== 0", "== -2"))
        assert local_check.run_tests(ws).returncode == 0  # the edited test passes...
        assert local_check.check(task, ws) == "test file test_calc.py changed"  # ...and does not count
    finally:
        shutil.rmtree(ws)


def test_a_doctest_rewritten_to_match_the_bug_is_not_solved(bench):
    local_check = bench[0]
    task = _task(bench, "initials doctest")
    ws = local_check.make_repo(task)
    try:
        names = ws / "names.py"
        names.write_text(names.read_text().replace("'AL'", "'al'"))
        assert local_check.check(task, ws) == "names.py lost '>>> initials(\"ada lovelace\")'"
    finally:
        shutil.rmtree(ws)


def test_verify_refuses_a_task_whose_tests_already_pass(bench):
    local_check, tasks, _held = bench
    task = tasks.Task("no bug", "none", "fix it", {"m.py": "X = 1\n", "test_m.py": "from m import X\n\n\n"
                                                    "def test_x():\n    assert X == 1\n"},
                      (("m.py", "1", "2"),))
    assert local_check.verify(task) == "the tests pass before the fix"

"""A failed run's output, read: the first failure and the summary kept, the frames found.

The outputs are real: pytest (and python) run in a tiny project made by each test.
"""

from __future__ import annotations

from pathlib import Path

from tiny_projects import project, run

from ketch.agent.verify.failure import MAX_LINES, Frame, failed_tests, frames, trim

DEEP = {
    "app.py": "def helper(x):\n    return x[0]\n\n\ndef first(items):\n    return helper(items)\n",
    "tests/test_app.py": (
        "from app import first\n\n\n"
        + "".join(f"def test_passes_{i}():\n    assert first([{i}]) == {i}\n\n\n" for i in range(30))
        + "def test_first_of_empty():\n" + "".join(f"    x{i} = {i}\n" for i in range(40))
        + "    assert first([]) is None\n\n\n"
        "def test_another_failure():\n    assert first([2]) == 3\n"),
}


def test_pytest_s_first_failure_and_summary_are_kept_and_the_rest_is_cut(tmp_path: Path):
    output = run(project(tmp_path, DEEP), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert "test_another_failure" in output and "=====" in output  # what pytest said, in full
    text = trim(output)
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES
    assert lines[0] == "== FAILURES ==" and "__ test_first_of_empty __" in text
    assert "E       IndexError: list index out of range" in text and "app.py:2: IndexError" in text
    assert "lines cut" in text  # the test's 40 assignments are the middle that goes
    assert "FAILED tests/test_app.py::test_first_of_empty - IndexError" in text
    assert "__ test_another_failure __" not in text  # only the first failure's entry
    assert "2 failed, 30 passed" in text  # the count line
    assert "=====" not in text and "_ _ _ _" not in text and "^^^" not in text  # rulers and markers shortened


def test_a_short_failure_is_kept_whole(tmp_path: Path):
    output = run(project(tmp_path, {"app.py": "def add(a, b):\n    return a - b\n",
                                    "tests/test_app.py": "from app import add\n\n\ndef test_add():\n"
                                                         "    assert add(1, 2) == 3\n"}),
                 "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider")
    text = trim(output)
    assert "lines cut" not in text
    for line in ("    def test_add():", ">       assert add(1, 2) == 3", "E       assert -1 == 3",
                 "tests/test_app.py:5: AssertionError", "FAILED tests/test_app.py::test_add - assert -1 == 3"):
        assert line in text.splitlines()
    assert failed_tests(output) == [("tests/test_app.py", "test_add")]


def test_a_python_traceback_keeps_its_last_traceback(tmp_path: Path):
    root = project(tmp_path, {"lib.py": "def parse(text):\n    return int(text)\n",
                              "main.py": "import lib\nprint('starting')\n" + "print('noise')\n" * 100
                                         + "lib.parse('x')\n"})
    output = run(root, "main.py")
    text = trim(output)
    assert text.startswith("Traceback (most recent call last):")
    assert "ValueError: invalid literal for int() with base 10: 'x'" in text and "noise" not in text
    found = frames(output)
    assert [(Path(f.path).name, f.line, f.function) for f in found] == [("main.py", 103, "<module>"),
                                                                        ("lib.py", 2, "parse")]


def test_pytest_locations_and_the_frames_between_are_found(tmp_path: Path):
    output = run(project(tmp_path, DEEP), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider")
    line = DEEP["tests/test_app.py"].splitlines().index("    assert first([]) is None") + 1
    assert frames(output) == [Frame("tests/test_app.py", line), Frame("app.py", 6, "first"), Frame("app.py", 2)]
    assert failed_tests(output) == [("tests/test_app.py", "test_first_of_empty")]


def test_other_runners_stack_lines_are_frames():
    node = ("AssertionError [ERR_ASSERTION]: 2 == 3\n    at add (/w/src/math.js:3:9)\n"
            "    at Object.<anonymous> (/w/test/math.test.js:4:1)\n    at node:internal/main:1:1\n")
    assert frames(node)[:2] == [Frame("/w/src/math.js", 3, "add"), Frame("/w/test/math.test.js", 4, "Object.<anonymous>")]
    go = "--- FAIL: TestAdd (0.00s)\n    math_test.go:9: Add(1, 2) = -1, want 3\nFAIL\n"
    assert frames(go) == [Frame("math_test.go", 9)]
    rust = "thread 'tests::adds' panicked at src/lib.rs:10:5:\nassertion failed\n"
    assert frames(rust) == [Frame("src/lib.rs", 10)]


def test_nothing_to_cut_and_no_frames_in_plain_output():
    assert trim("ok\n") == "ok"
    assert frames("3 passed in 0.01s\n") == [] and failed_tests("3 passed\n") == []
    long = "\n".join(f"line {i}" for i in range(500))
    assert trim(long).splitlines()[-1] == "line 499" and len(trim(long).splitlines()) <= MAX_LINES

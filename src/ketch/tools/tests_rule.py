"""Tests are evidence, not targets: in the small-model profile, test files are not the model's to change.

Measured with qwen2.5-coder-1.5b (issue 16): asked to make a failing test pass, it edited the
test in 2 of 8 tasks although the prompt said not to. A prompt cannot stop it; the harness
can. The rule holds only for the small-model profile (`SessionState.tests_are_evidence`,
set by the wiring) and only when the request is not itself about tests: "add a test for
slugify", "update the tests", "raise coverage" are; "fix the bug, the test in tests/ fails"
and "make the failing test pass without touching the tests" are not, though they say "test".
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ketch.tools.base import ToolContext, ToolError

_TEST_DIRS = {"tests", "test", "__tests__", "spec", "specs"}
# Modules the test command imports that a file at the workspace's top would shadow (`-m` puts it first on sys.path).
_SHADOWED = {"pytest", "_pytest", "pluggy", "iniconfig", "unittest"}
_TEST_NAME = re.compile(
    r"^(test_.+\.py|.+_test\.py|conftest\.py|.+\.(test|spec)\.(js|jsx|ts|tsx|mjs|cjs)|.+_test\.go|.+_spec\.rb)$")

_TEST_WORD = r"(unit\s+|regression\s+|integration\s+|e2e\s+|end-to-end\s+|doc)?(tests?|specs?|test\s+cases?|test\s+files?|testcases?)"
_FILLER = r"(a|an|the|some|new|more|few|two|three|several|extra|additional|proper|missing|existing|its|their|my|our|" \
          r"this|that|these|those|corresponding|matching|relevant)"
_VERB = r"(write|writ|add|create|update|extend|improve|rename|refactor|rewrite|modify|edit|change|delete|remove|" \
        r"adjust|expand|generate|cover)"
_WORK_ON_TESTS = re.compile(rf"\b{_VERB}\w*\s+(({_FILLER})\s+)*{_TEST_WORD}\b", re.IGNORECASE)
_ABOUT_TESTS = re.compile(
    r"\b(coverage|conftest|fixtures?|tests? (is|are) (wrong|outdated|incorrect|broken)|wrong tests?)", re.IGNORECASE)
_HANDS_OFF = re.compile(
    r"\b(don'?t|do not|never|without|not|no)\s+(\w+\s+){0,2}(touch|chang|edit|modif|updat|rewrit|alter)\w*"
    rf"\s+(({_FILLER})\s+)*{_TEST_WORD}", re.IGNORECASE)


def about_tests(request: str) -> bool:
    """True when the user asks for work on tests themselves (so test files may change)."""
    if _HANDS_OFF.search(request):
        return False
    return bool(_WORK_ON_TESTS.search(request) or _ABOUT_TESTS.search(request))


def is_test_path(path: Path, workspace: Path) -> bool:
    """tests/**, test_*.py, *_test.py, *.test.js/ts, *.spec.js/ts, __tests__/**, conftest.py, and
    pytest's own configuration files (pytest.ini, tox.ini: `addopts = --co` passes any test)."""
    from ketch.tools.test_config import PYTEST_FILES

    try:
        rel = PurePosixPath(path.relative_to(workspace).as_posix())
    except ValueError:
        rel = PurePosixPath(path.as_posix())
    folders = rel.parts[:-1]
    name = rel.name.lower()
    if rel.parts and PurePosixPath(rel.parts[0]).stem in _SHADOWED:  # `python3 -m pytest` imports ./pytest.py first
        return True
    return bool(_TEST_NAME.match(name)) or name in PYTEST_FILES or name.endswith(".pth") \
        or any(part.lower() in _TEST_DIRS for part in folders)


def rule_applies(ctx: ToolContext) -> bool:
    return ctx.state.tests_are_evidence and not ctx.state.request_about_tests


def check_test_edit(ctx: ToolContext, path: Path) -> None:
    """Raise ToolError if this profile keeps the model's hands off test files and `path` is one."""
    if not rule_applies(ctx) or not is_test_path(path, ctx.workspace):
        return
    raise ToolError(
        f"Refused: {path} is a test file. Don't change tests; change the code under test so the "
        "test passes. The failing test is evidence of what the code must do: read the test, find the function "
        "it calls, and edit that function's file instead. Nothing was written."
    )


def check_test_config(ctx: ToolContext, path: Path, before: str | None, after: str) -> None:
    """Raise ToolError if the change alters how the tests run (pyproject's [tool.pytest], package.json's
    test script, the Makefile's test rule): the rest of such a file may change."""
    from ketch.tools.test_config import how_tests_run, is_shared_config

    if not rule_applies(ctx) or not is_shared_config(path.name):
        return
    if how_tests_run(path.name, before or "") == how_tests_run(path.name, after):
        return
    raise ToolError(
        f"Refused: this change to {path} alters how the tests run (their configuration or command). Don't change "
        "how tests run; change the code under test so the tests pass. Nothing was written."
    )


_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", "site-packages", "target", "dist"}
MAX_EVIDENCE_FILES = 5000
MAX_HASHED_BYTES = 4_000_000  # a bigger fixture is known by its size and mtime


def evidence(workspace: Path) -> dict[str, object]:
    """What the tests are, now: every test file's hash and the testing part of the shared config
    files, by relative path. The closed loop compares it with the run's start: a test changed by
    any route (Bash's `sed -i`, `git checkout`, a rename) makes a pass no evidence."""
    import os

    found: dict[str, object] = {}
    for folder, dirs, files in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder, name)
            shared = folder == str(workspace)
            if shared or is_test_path(path, workspace):
                value = _fingerprint(path, shared)
                if value is not None:
                    found[path.relative_to(workspace).as_posix()] = value
            if len(found) >= MAX_EVIDENCE_FILES:
                return found
    return found


def _fingerprint(path: Path, top: bool) -> object:
    """A file's hash (its testing part for a shared config file at the top); a link's target; a big
    file's size and mtime. Never follows a link, never opens a FIFO or device (a hostile repository's)."""
    import hashlib
    import os
    import stat

    from ketch.tools.test_config import how_tests_run, is_shared_config

    if top and not is_shared_config(path.name) and not is_test_path(path, path.parent):
        return None
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return ("link", os.readlink(path))
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_HASHED_BYTES:
            return (st.st_mode, st.st_size, st.st_mtime_ns)
        data = path.read_bytes()
    except OSError:
        return None
    if top and is_shared_config(path.name):
        return how_tests_run(path.name, data.decode("utf-8", "replace"))
    return hashlib.sha256(data).hexdigest()


def changed_evidence(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """The test files (and testing configuration) that differ, appeared or went."""
    return sorted(k for k in before.keys() | after.keys() if (k in before) != (k in after) or before[k] != after[k])

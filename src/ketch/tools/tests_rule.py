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
    """tests/**, test_*.py, *_test.py, *.test.js/ts, *.spec.js/ts, __tests__/**, conftest.py."""
    try:
        rel = PurePosixPath(path.relative_to(workspace).as_posix())
    except ValueError:
        rel = PurePosixPath(path.as_posix())
    folders = rel.parts[:-1]
    return bool(_TEST_NAME.match(rel.name.lower())) or any(part.lower() in _TEST_DIRS for part in folders)


def check_test_edit(ctx: ToolContext, path: Path) -> None:
    """Raise ToolError if this profile keeps the model's hands off test files and `path` is one."""
    state = ctx.state
    if not state.tests_are_evidence or state.request_about_tests or not is_test_path(path, ctx.workspace):
        return
    raise ToolError(
        f"Refused: {path} is a test file. Don't change tests; change the code under test so the "
        "test passes. The failing test is evidence of what the code must do: read the test, find the function "
        "it calls, and edit that function's file instead. Nothing was written."
    )

"""Tests are evidence: in the small-model profile, test files change only when the request is about tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.edit import EditTool, MultiEditTool
from ketch.tools.tests_rule import about_tests, is_test_path
from ketch.tools.write import WriteTool

TEST = "from app import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def small_ctx(workspace: Path, request: str) -> ToolContext:
    state = SessionState(edit_requires_read=False, tests_are_evidence=True)  # the small-model profile
    state.start_request(request)
    return ToolContext(workspace=workspace, state=state, runner=run)


@pytest.mark.parametrize("request_", [
    "Fix the off-by-one in paginate(); the test in tests/test_pages.py fails.",
    "Make the failing test pass without touching the tests",
    "make the failing tests pass, do not change the tests",
    "The tests fail; fix it",
    "fix the failing tests",
    "Change foo so the test passes",
    "Run pytest and fix what fails",
    "add a --verbose flag to cli.py; tests/test_cli.py shows the usage",
    "the test for slugify fails",
])
def test_requests_that_only_mention_tests_are_not_about_tests(request_: str) -> None:
    assert not about_tests(request_)


@pytest.mark.parametrize("request_", [
    "Add a test for slugify", "Write unit tests for utils.py", "Increase coverage of parser.py",
    "Update the tests after renaming foo to bar", "add tests", "the test is wrong, fix it",
    "write a regression test", "add some more tests for x", "create test cases for f", "add a fixture to conftest.py",
])
def test_requests_for_work_on_tests_are(request_: str) -> None:
    assert about_tests(request_)


@pytest.mark.parametrize(("rel", "expected"), [
    ("tests/test_app.py", True), ("tests/helpers.py", True), ("test_app.py", True), ("pkg/app_test.py", True),
    ("conftest.py", True), ("web/src/__tests__/x.js", True), ("web/a.test.ts", True), ("web/a.spec.js", True),
    ("app.py", False), ("src/testing.py", False), ("src/contest.py", False), ("latest/app.py", False),
])
def test_test_paths(tmp_path: Path, rel: str, expected: bool) -> None:
    assert is_test_path(tmp_path / rel, tmp_path) is expected


def test_edit_write_and_multiedit_to_a_test_file_are_refused_in_the_small_profile(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    f = tmp_path / "tests" / "test_app.py"
    f.write_text(TEST)
    ctx = small_ctx(tmp_path, "Fix add() in app.py so the test in tests/test_app.py passes")
    calls = [
        (EditTool(), {"file_path": str(f), "old_string": "== 3", "new_string": "== 4"}),
        (MultiEditTool(), {"file_path": str(f), "edits": [{"old_string": "== 3", "new_string": "== 4"}]}),
        (WriteTool(), {"file_path": str(f), "content": TEST.replace("3", "4")}),
        (WriteTool(), {"file_path": "tests/test_new.py", "content": "def test_x():\n    pass\n"}),
    ]
    for tool, call in calls:
        with pytest.raises(ToolError) as err:
            tool.run(call, ctx)
        assert "is a test file. Don't change tests; change the code under test so the test passes. " \
               "The failing test is evidence of what the code must do" in str(err.value)
    assert f.read_text() == TEST and not (tmp_path / "tests" / "test_new.py").exists()
    (tmp_path / "app.py").write_text("def add(a, b):\n    return a - b\n")
    EditTool().run({"file_path": "app.py", "old_string": "a - b", "new_string": "a + b"}, ctx)  # the code: fine


def test_a_request_about_tests_may_change_them(tmp_path: Path) -> None:
    f = tmp_path / "test_app.py"
    f.write_text(TEST)
    ctx = small_ctx(tmp_path, "Add a test for add() with negative numbers")
    EditTool().run({"file_path": str(f), "old_string": "== 3\n", "new_string": "== 3\n    assert add(-1, -2) == -3\n"},
                   ctx)
    assert "-3" in f.read_text()
    ctx.state.start_request("now fix add() so that passes")  # the next run's request decides anew
    with pytest.raises(ToolError, match="is a test file"):
        EditTool().run({"file_path": str(f), "old_string": "== -3", "new_string": "== 0"}, ctx)


def test_other_profiles_edit_tests_freely_and_a_new_conversation_keeps_the_profile(tmp_path: Path) -> None:
    f = tmp_path / "test_app.py"
    f.write_text(TEST)
    ctx = ToolContext(workspace=tmp_path, state=SessionState(edit_requires_read=False), runner=run)
    ctx.state.start_request("fix the bug")
    EditTool().run({"file_path": str(f), "old_string": "== 3", "new_string": "== 4"}, ctx)
    assert "== 4" in f.read_text()
    small = SessionState(edit_requires_read=False, tests_are_evidence=True)
    small.read_files["x"] = 1
    fresh = small.fresh()
    assert fresh.tests_are_evidence and not fresh.edit_requires_read and fresh.read_files == {}

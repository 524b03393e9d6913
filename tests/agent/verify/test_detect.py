"""Which test command a run uses: the one the request names, else the one the project's files imply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketch.agent.verify.detect import PYTEST, asks_to_fix, find_test_command, from_project, from_prompt


@pytest.mark.parametrize(("prompt", "command"), [
    ("run `pytest tests/test_cli.py -k flag` and fix what fails", "pytest tests/test_cli.py -k flag"),
    ("the check is `python -m unittest discover -s tests`", "python -m unittest discover -s tests"),
    ("make pytest pass", PYTEST),
    ("fix it; pytest tests/test_app.py::test_add fails.", f"{PYTEST} tests/test_app.py::test_add"),
    ("python3 -m unittest says the parser is wrong", "python3 -m unittest"),
    ("npm test is red after the upgrade", "npm test --silent"),
    ("go test ./... fails on the new flag", "go test ./..."),
    ("cargo test panics in parse", "cargo test -q"),
    ("`make test` fails", "make test"),
    ("make test pass again", "make test"),
])
def test_a_command_the_prompt_names_wins(tmp_path: Path, prompt: str, command: str):
    (tmp_path / "go.mod").write_text("module x\n")  # the project would say otherwise
    assert find_test_command(prompt, tmp_path) == command


@pytest.mark.parametrize("prompt", ["rename greet to say_hello", "edit pytest.ini to add a marker",
                                    "the tests folder is messy", "`make` the `test` pass"])
def test_no_command_is_taken_from_a_prompt_that_names_none(prompt: str):
    assert from_prompt(prompt) is None


@pytest.mark.parametrize("prompt", ["`pytest; rm -rf ~`", "`pytest $(cat secret)`", "`pytest > /etc/x`"])
def test_a_quoted_command_that_is_more_than_a_plain_command_line_is_not_taken_as_written(prompt: str):
    assert from_prompt(prompt) == PYTEST  # the runner it names, run plainly


@pytest.mark.parametrize(("files", "command"), [
    ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, PYTEST),
    ({"pyproject.toml": "[project]\nname = 'x'\n[project.optional-dependencies]\ntest = ['pytest']\n"}, PYTEST),
    ({"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\ntestpaths = tests\n"}, PYTEST),
    ({"pytest.ini": "[pytest]\n"}, PYTEST),
    ({"tox.ini": "[tox]\nenvlist = py3\n[pytest]\naddopts = -q\n"}, PYTEST),
    ({"tests/test_app.py": "def test_x(): pass\n"}, PYTEST),
    ({"test_app.py": "def test_x(): pass\n"}, PYTEST),
    ({"package.json": json.dumps({"scripts": {"test": "node --test"}})}, "npm test --silent"),
    ({"package.json": json.dumps({"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}})}, None),
    ({"package.json": "{not json"}, None),
    ({"go.mod": "module example.com/x\n"}, "go test ./..."),
    ({"Cargo.toml": "[package]\nname = 'x'\n"}, "cargo test -q"),
    ({"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./run-tests\n"}, "make test"),
    ({"Makefile": "build:\n\tcc x.c\n"}, None),
    ({"pyproject.toml": "[project]\nname = 'x'\n", "src/app.py": "x = 1\n"}, None),
    ({}, None),
])
def test_the_project_s_files_imply_its_command(tmp_path: Path, files: dict[str, str], command: str | None):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert from_project(tmp_path) == command
    assert find_test_command("make the greeting friendlier", tmp_path) == command


@pytest.mark.parametrize(("prompt", "fix"), [
    ("tests/test_app.py fails: fix add() in app.py", True),
    ("Fix the off-by-one in paginate; the test is failing", True),
    ("make the failing doctest in slugify pass", True),
    ("run `pytest -q` and fix it", True),
    ("fix the bug in parse_config without touching the tests", True),
    ("add a test for slugify", False),  # work on the tests: nothing to fix before starting
    ("add a --verbose flag to the CLI", False),
    ("explain what the tests cover", False),
    ("test_geometry.py fails with a NameError, can you fix it?", True),  # a test file named, not the word
    ("app_test.go is red since the last commit", True),
    ("the widget.spec.ts failure: please fix it", True),
])
def test_a_request_to_fix_failing_tests_is_told_apart(prompt: str, fix: bool):
    assert asks_to_fix(prompt) is fix


@pytest.mark.parametrize(("prompt", "change"), [
    ("test_geometry.py fails with a NameError, can you fix it?", True),
    ("Could you add a --verbose flag to wordcount?", True),
    ("bump the version to 1.0.0 in setup.py and the package", True),
    ("what does main.py do?", False),
    ("why does test_app.py fail?", False),
    ("is parse_config tested anywhere?", False),
    ("can you explain the retry logic?", False),
    ("hello", False),
    ("Thanks so much!", False),
    ("ok", False),
    ("fix it", True),
    ("ok, now rename greet to say_hello", True),
    ("describe() raises a KeyError. Fix it.", True),  # a function's name first, then the order
    ("list.sort is wrong in utils. Please fix the comparison", True),
    ("What is wrong here? Fix it.", True),
    ("describe the retry logic", False),
    ("show me where the config is read", False),
    ("how does the cache work? what sets it?", False),
])
def test_a_change_asked_for_politely_is_still_a_change(prompt: str, change: bool):
    from ketch.agent.verify.detect import asks_for_change

    assert asks_for_change(prompt) is change

"""Which command runs this project's tests: the one the prompt names, else the project's own.

Decided once per run, from the request and a few files at the workspace's top level, so a
small model never has to find it (measured, issue 16: qwen2.5-coder-1.5b ran no test in 8 tasks).
A command the prompt names in backticks is taken as written; a runner it only mentions
("make pytest pass") becomes that runner's plain command. Pure: reads files, runs nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PYTEST = "python3 -m pytest -q -x"
# A runner named in prose, and the command that runs it.
_NAMED = (
    (re.compile(r"\bpython3? -m unittest\b"), "python3 -m unittest"),
    (re.compile(r"\b(python3? -m )?pytest\b(?![.\w-])"), PYTEST),
    (re.compile(r"\bnpm (run )?test\b"), "npm test --silent"),
    (re.compile(r"\bgo test\b"), "go test ./..."),
    (re.compile(r"\bcargo test\b"), "cargo test -q"),
    (re.compile(r"\bmake test\b"), "make test"),
)
_QUOTED = re.compile(r"`([^`\n]{2,200})`")
_RUNNER = re.compile(r"^((python3?|\.?venv/bin/python3?) -m (pytest|unittest)|pytest|npm (run )?test|go test|"
                     r"cargo test|make test)\b")
_SAFE = re.compile(r"^[\w ./:=,+@\[\]-]+$")  # a plain command line: no quotes, pipes, `;`, `$`, redirections
# pytest nodes named beside a prose `pytest` ("run pytest tests/test_cli.py"): kept as its arguments.
_NODE = re.compile(r"^[\w./-]+\.py(::[\w\[\]-]+)*$|^[\w.-]+/[\w./-]*$")


def from_prompt(prompt: str) -> str | None:
    """The test command the request names, or None."""
    for quoted in _QUOTED.finditer(prompt):
        command = quoted[1].strip()
        if _RUNNER.match(command) and _SAFE.match(command):
            return command
    for pattern, command in _NAMED:
        match = pattern.search(prompt)
        if match is None:
            continue
        if command == PYTEST:
            nodes = []
            for word in prompt[match.end():].split()[:4]:
                word = word.rstrip(".,;:!?)")
                if not _NODE.match(word):
                    break
                nodes.append(word)
            return " ".join([command, *nodes])
        return command
    return None


def from_project(workspace: Path) -> str | None:
    """The test command the project's files imply, or None when nothing says how to test it."""
    if _python_tests(workspace):
        return PYTEST
    scripts = _json(workspace / "package.json").get("scripts")
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if isinstance(test, str) and test.strip() and "no test specified" not in test:
        return "npm test --silent"
    if (workspace / "go.mod").is_file():
        return "go test ./..."
    if (workspace / "Cargo.toml").is_file():
        return "cargo test -q"
    if re.search(r"^test\s*:", _text(workspace / "Makefile"), re.MULTILINE):
        return "make test"
    return None


def find_test_command(prompt: str, workspace: Path) -> str | None:
    """The command to run: the prompt's, else the project's."""
    return from_prompt(prompt) or from_project(workspace)


def _python_tests(workspace: Path) -> bool:
    if (workspace / "pytest.ini").is_file():
        return True
    if re.search(r"^\[tool\.pytest|\bpytest\b", _text(workspace / "pyproject.toml"), re.MULTILINE):
        return True
    if "[tool:pytest]" in _text(workspace / "setup.cfg") or "[pytest]" in _text(workspace / "tox.ini"):
        return True
    folders = [workspace, *(workspace / name for name in ("tests", "test"))]
    return any(_has_test_file(folder) for folder in folders)


def _has_test_file(folder: Path) -> bool:
    try:
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    except OSError:
        return False
    return any(n.endswith(".py") and (n.startswith("test_") or n.endswith("_test.py")) for n in names)


def _text(path: Path, limit: int = 200_000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""


def _json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(_text(path))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# Tests spoken of, by word or by a test file's name ("test_geometry.py fails", "app_test.go", "app.spec.ts").
_TEST_TALK = re.compile(r"\b(tests?|pytest|unittest|specs?|doctests?)\b|\btest_\w+|\w_test\b|\.(test|spec)\.\w",
                        re.IGNORECASE)
_FIX_TALK = re.compile(r"\b(fix\w*|fail\w*|pass(es|ing)?|broken|break\w*|bugs?|buggy|errors?|wrong|red|green)\b",
                       re.IGNORECASE)


def asks_to_fix(prompt: str) -> bool:
    """The request is to make failing tests pass: it names a test command, or speaks of tests and
    of fixing or failing ("fix the bug; tests/test_app.py fails"), and is not work on the tests."""
    from ketch.tools.tests_rule import about_tests

    if from_prompt(prompt) is not None:
        return True
    return bool(_TEST_TALK.search(prompt) and _FIX_TALK.search(prompt)) and not about_tests(prompt)


# A question's first word, as a word: `describe()` or `list.sort` opening a bug report is code, not a verb.
_QUESTION = re.compile(r"^\s*(what|why|how|where|when|who|which|explain|describe|summari[sz]e|tell|show|list|is|are|"
                       r"does|do|can|could|should|would)\b(?![(.`'\"\[])", re.IGNORECASE)
_CHANGE_VERBS = (r"(fix|add|rename|implement|change|update|bump|make|handle|remove|refactor|replace|write|create|correct|"
                 r"repair|set|move|convert|support|rewrite)")
# A sentence that orders a change, wherever it stands: "describe() raises a KeyError. Fix it." A sentence
# starts after a stop and a space (or a line break); a verb that is code is no order: `cache.set`,
# `dict.update` and "update() vs add()?" are asked about (red team, session 10: such questions ran the
# tests and were answered with a forced Write of the file a failure showed).
_ORDER = re.compile(r"(^\s*|[.!?;:]\s+|\n\s*)(please\s+|now\s+|then\s+)?" + _CHANGE_VERBS +
                    r"\b(?![(`'\"\[]|\.\w)", re.IGNORECASE)


# A greeting or a thank-you, alone: nothing to change, no tests to run.
_SMALL_TALK = re.compile(r"^\s*(hi|hello|hey|thanks|thank you|thx|ok|okay|yes|no|nope|great|cool|nice|good( job)?|"
                         r"bye)\b[\s\W]*(there|again|so much|a lot|ketch)?[\s\W]*$", re.IGNORECASE)
# A change asked for as a question: "can you fix it?", "could you add a --verbose flag?".
_POLITE_CHANGE = re.compile(r"\b(can|could|would|will) you (please |kindly )?" + _CHANGE_VERBS + r"\b", re.IGNORECASE)


def asks_for_change(prompt: str) -> bool:
    """The request asks for work on the code, not for an answer: a model that stops without
    changing anything has its stop checked against the tests. Questions are left alone, but not
    a change asked for politely ("test_geometry.py fails, can you fix it?")."""
    if _POLITE_CHANGE.search(prompt) or _ORDER.search(prompt):
        return True
    if _SMALL_TALK.match(prompt):
        return False
    return not (_QUESTION.match(prompt) or prompt.rstrip().endswith("?"))

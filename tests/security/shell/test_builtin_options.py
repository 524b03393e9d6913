"""Issue 10, classes 7 and 8 at the gate: each built-in rule against its program's options,
and shell paths resolved like the file tools, decided without starting ketch (fast, many).
The end-to-end attacks are in test_attacks_builtin_rules.py and test_attacks_shell_paths.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ketch.agent.permissions import PermissionGate, _sandboxed_allow_specs, parse_rules
from ketch.security.protected import protected_set
from ketch.security.shell import builtin as shell_builtin


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for d in (ws / "tests", ws / "src", tmp_path / "home" / ".aws", tmp_path / "other"):
        d.mkdir(parents=True)
    (tmp_path / "other" / ".env").write_text("SECRET=1\n")
    (tmp_path / "home" / ".aws" / "credentials").write_text("key\n")
    os.symlink("../other", ws / "docs")
    os.symlink(str(tmp_path / "other"), ws / "tests" / "link")
    (ws / "tests" / "test_a.py").write_text("def test_x():\n    pass\n")
    (ws / "app.py").write_text("x = 1\n")
    return ws


def decide(ws: Path, command: str, mode: str = "default", cwd: Path | None = None) -> str:
    home = ws.parent / "home"
    gate = PermissionGate(mode=mode, allow=[], deny=[], workspace=ws, home=home,
                          protected=protected_set([ws], home, ws.parent / "ketch-home"), sandboxed=True)
    return gate.decide("Bash", "execute", {"command": command}, [], cwd=cwd).verdict


ORDINARY = [
    "pytest", "pytest -x -q tests/test_a.py -k name", "python -m pytest", "python3 -m pytest -q -p no:cacheprovider",
    "pytest tests/test_a.py::test_x -vv --tb=short", "pytest -n auto --maxfail=2", "make test", "make test -j4 -k",
    "npm test", "npm run lint", "yarn test", "pnpm test", "git add -A", "git add src tests", "git commit -m msg",
    "git commit -am 'fix: x' --no-verify", "git checkout -b new", "git switch main", "git switch -c feature",
    "git stash", "git stash push -m wip", "git stash pop", "git stash list", "git branch", "git branch feature",
    "git restore --staged app.py", "ruff check .", "ruff check --fix src", "ruff format .", "mypy src",
    "mypy --strict --warn-unused-ignores src", "black --check .", "isort --check-only --diff .", "eslint .",
    "eslint --fix --max-warnings 0 src", "tsc --noEmit", "tsc -p tsconfig.json", "cargo test", "cargo test -- --nocapture",
    "cargo clippy -- -D warnings", "cargo build --release", "go test ./...", "go test -run TestX -v ./src/...",
    "go vet ./...", "go build ./...", "tox -e py311", "nox -s tests", "python3 -m unittest -v",
    "python -m unittest tests.test_a", "python3 -m unittest discover -s tests", ".venv/bin/pip install -e .",
    ".venv/bin/pip install -r requirements.txt", ".venv/bin/python -m pip install -U pip", "uv pip install requests",
    "uv sync --frozen", "mkdir -p build/out", "touch src/__init__.py", "cd tests && cat ../app.py",
    "cd src && python3 -m pytest -q", "pytest 2>&1 | tail -5", "cat app.py tests/*.py", "grep -rn x --include='*.py' .",
]


@pytest.mark.parametrize("command", ORDINARY)
def test_ordinary_forms_run_without_asking(ws: Path, command: str):
    assert decide(ws, command) == "allow"


CODE_OR_LOSS = [
    # code named in the arguments, or another project
    "make test --eval='x:=$(shell id)'", "make test -f evil.mk", "make test -C ../other", "make test CC=sh",
    "make test deploy", "make test -I ../other", "pytest -p evil", "pytest -pevil", "pytest -c evil.ini",
    "pytest --config-file=evil.ini", "pytest --rootdir=/", "pytest --basetemp=src", "pytest -o addopts=-pevil",
    "pytest --pdbcls=evil:X", "pytest -W error::evil.W", "pytest --pyargs evil", "pytest --confcutdir=/",
    "pytest --debug=app.py --basetemp src", "pytest ../other", "pytest $ARGS", "pytest --co=x",
    "python -m pytest --rootdir ..", "python3 -m unittest discover -s ../other", "python -m unittest ../other/t.py",
    "npm test -- --config evil.js", "npm test --script-shell=./evil", "npm test --prefix ../other", "yarn test --cwd ..",
    "npm run build -- --watch", "cargo test --config target.runner=sh", "cargo build --manifest-path ../o/Cargo.toml",
    "cargo test -Z unstable-options", "cargo clippy --fix", "cargo test -- --logfile=/etc/x",
    "go test -exec ./evil ./...", "go test -toolexec=./evil", "go vet -vettool=/bin/sh ./...", "go build -C ../other",
    "go test -overlay=o.json", "go build -ldflags=-extld=./evil", "go test ./... -args -x", "ruff check --config x.toml",
    "ruff check --cache-dir /tmp/x .", "mypy --config-file evil.ini src", "mypy --python-executable ./evil src",
    "mypy --install-types", "mypy --shadow-file a b src", "eslint -c evil.js .", "eslint --rulesdir evil .",
    "eslint --plugin evil .", "eslint -f ./evil.js .", "eslint --resolve-plugins-relative-to .. .", "tsc --init",
    "black --config evil.toml .", "isort --settings-path ../other .", "tox -c ../other/tox.ini", "tox -x a=b",
    "tox -- --basetemp=src", "tox --workdir src", "nox -f ../other/noxfile.py", "nox -- -x", "nox --envdir src",
    ".venv/bin/pip install --python /usr/bin/python3 x", ".venv/bin/pip install --prefix /tmp x",
    ".venv/bin/pip install -C k=v .", ".venv/bin/pip install -e ../other", "uv pip install --python /usr/bin/python3 x",
    "uv pip install --system x", "uv sync --directory ..", "uv sync --python ./evil",
    # git: data undo cannot restore
    "git branch -D main", "git branch -d main", "git branch --delete main", "git branch -M a b", "git branch -f main x",
    "git branch -C a main", "git branch --edit-description", "git stash clear", "git stash drop", "git stash drop stash@{0}",
    "git restore --staged --worktree app.py", "git restore --staged -W app.py", "git restore --staged -SW app.py",
    "git restore --staged --ours app.py", "git switch --discard-changes main", "git switch -f main", "git switch -C main",
    "git switch -m main", "git switch --orphan x", "git checkout -b x -f", "git checkout -b x -- app.py",
    "git checkout -b x --orphan", "git commit --amend -e", "git commit -F ../other/msg", "git commit -F docs/.env",
    "git commit --template=docs/.env", "git add --pathspec-from-file=docs/.env", "git add -e", "git add -p ../other",
    "git diff --output=app.py", "git log --output=app.py", "git show --ext-diff", "git init ../other",
    # writes into the workspace (edits), and protected paths
    "git status > app.py", "pytest --junit-xml=app.py", "ruff check -o out.txt .", "eslint -o out.txt .",
    "go test -coverprofile=app.py", "tsc --outDir src", "echo x >> app.py", "mkdir .ketch/commands", "touch .envrc",
    "mkdir ../outside", "touch ~/.bashrc",
]


@pytest.mark.parametrize("command", CODE_OR_LOSS)
def test_code_destruction_and_writes_are_not_auto_allowed(ws: Path, command: str):
    assert decide(ws, command) in ("ask", "deny")


@pytest.mark.parametrize("command", ["git status > out.txt", "pytest --junit-xml=report.xml", "echo x > notes.md",
                                     "ruff check --output-file=lint.txt ."])
def test_a_write_inside_is_an_edit(ws: Path, command: str):
    assert decide(ws, command) == "ask"
    assert decide(ws, command, mode="acceptEdits") == "allow"
    assert decide(ws, command, mode="plan") == "deny"


@pytest.mark.parametrize("command", ["echo x > .envrc", "pytest --junit-xml=.git/config", "touch .vscode/tasks.json",
                                     "echo x > .git/hooks/pre-commit", "mkdir -p .claude/commands",
                                     "git status >> ~/.bashrc"])
def test_protected_write_targets_are_denied_even_in_accept_edits(ws: Path, command: str):
    assert decide(ws, command, mode="acceptEdits") == "deny"


READS_OUTSIDE = [
    "cat docs/.env", "cat docs/*", "cat */.env", "cat d?cs/.env", "cat --file=docs/.env", "grep -fdocs/.env x",
    "grep -h -f docs/.env app.py", "diff --from-file=docs/.env app.py", "cat < docs/.env", "head -n1 < tests/link/.env",
    "cd tests && cat link/.env", "(cd tests); cat tests/link/.env", "cd tests || cat ../../other/.env",
    "echo docs/.env | xargs cat", "git diff --no-index app.py docs/.env", "ls -la docs/", "rg KEY docs",
    "pytest docs", "ruff check docs", "git add docs/.env", "sed -n p docs/.env", "cat ./docs/../app.py",
]


@pytest.mark.parametrize("command", READS_OUTSIDE)
def test_reads_resolve_symlinks_globs_values_and_the_current_folder(ws: Path, command: str):
    assert decide(ws, command) == "ask"


def test_the_shell_folder_kept_across_calls_is_where_paths_resolve(ws: Path):
    assert decide(ws, "cat link/.env") == "allow"  # from the workspace: no such file, nothing outside
    assert decide(ws, "cat link/.env", cwd=ws / "tests") == "ask"
    assert decide(ws, "cat ../app.py", cwd=ws / "tests") == "allow"


@pytest.mark.parametrize("command", ["cat ~/.aws/credentials", "head ~/.aws/*", "cat < ~/.aws/credentials",
                                     "grep -r key ~/.aws", "wc -c --files0-from=x ~/.aws/credentials"])
def test_credential_stores_are_denied_to_shell_reads(ws: Path, command: str):
    assert decide(ws, command) == "deny"


def test_every_builtin_prefix_rule_has_an_option_list():
    prefixes = [spec[:-2].strip() for spec in _sandboxed_allow_specs() if spec.endswith(":*")]
    missing = [p for p in prefixes if p not in shell_builtin.CHECKS]
    assert missing == [], f"built-in rules without an option list (they would never match): {missing}"


def test_a_rule_without_an_option_list_fails_closed():
    assert shell_builtin.check("frobnicate", ["frobnicate", "-x"]).problem


def test_user_rules_are_unchanged():
    """A person's own `Bash(pytest:*)` still covers what it names, redirect included."""
    gate = PermissionGate(mode="default", allow=parse_rules(["Bash(pytest:*)"]), deny=[], workspace=Path("/ws"))
    assert gate.decide("Bash", "execute", {"command": "pytest > out.txt"}, []).verdict == "allow"

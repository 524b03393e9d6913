"""The built-in "runs without asking" rules, each held against its program's option list.

`data/sandboxed_allow.txt` names ordinary work by its first words (`pytest:*`, `git
commit:*`); `check(rule, words)` says what the rest of the command line does: nothing
beyond the ordinary job, or a problem (code from the arguments, another project, data undo
cannot restore), plus the files it names to read, write or create, which the gate then
resolves and decides like the file tools. A prefix rule with no option list fails closed.
"""

from __future__ import annotations

from collections.abc import Callable

from ketch.security.shell import git_rules
from ketch.security.shell import programs as progs
from ketch.security.shell import programs_build as build
from ketch.security.shell.git import git_read_only
from ketch.security.shell.options import Check
from ketch.security.shell.types import Word

Checker = Callable[[list[str]], Check]


def _read_only_git(sub: str) -> Checker:
    def check(args: list[str]) -> Check:
        ok = git_read_only([Word(w) for w in ["git", sub, *args]])
        return Check(reads=[a for a in args if not a.startswith("-")]) if ok else \
            Check().refuse(f"git {sub} with these options writes files or runs programs")
    return check


_PYTHON_PYTEST = {"pytest", "py.test", "python -m pytest", "python3 -m pytest", ".venv/bin/pytest",
                  ".venv/bin/python -m pytest"}

# rule prefix (without `:*`) -> the check of the words after it
_PIPS = (".venv/bin/pip", ".venv/bin/python -m pip", "pip", "pip3", "python -m pip", "python3 -m pip")

CHECKS: dict[str, Checker] = {
    **{f"git {sub}": _read_only_git(sub) for sub in ("status", "diff", "log", "show", "rev-parse", "ls-files",
                                                     "blame")},
    "git add": git_rules.add,
    "git commit": git_rules.commit,
    "git stash": git_rules.stash,
    "git branch": git_rules.branch,
    "git switch": git_rules.switch,
    "git checkout -b": lambda args: git_rules.checkout_b(["-b", *args]),
    "git restore --staged": git_rules.restore_staged,
    **{rule: progs.pytest for rule in _PYTHON_PYTEST},
    "python -m unittest": progs.unittest,
    "python3 -m unittest": progs.unittest,
    "tox": progs.tox,
    "nox": progs.nox,
    **{rule: progs.package_script for rule in ("npm test", "npm run test", "npm run lint", "npm run build",
                                               "npm run typecheck", "yarn test", "pnpm test")},
    **{f"cargo {sub}": build.cargo(sub) for sub in ("test", "build", "check", "clippy")},
    **{f"go {sub}": build.go for sub in ("test", "build", "vet")},
    **{f"make {target}": build.make for target in ("test", "check", "lint", "build")},
    "ruff check": build.ruff,
    "ruff format": build.ruff,
    "mypy": build.mypy,
    "black": build.black,
    "isort": build.isort,
    "eslint": progs.eslint,
    "tsc": progs.tsc,
    **{f"{pip} install": build.pip_install for pip in _PIPS},
    **{f"{pip} {sub}": build.pip_inspect for pip in _PIPS for sub in ("list", "freeze", "show")},
    "uv pip install": build.uv_pip_install,
    "uv sync": build.uv_sync,
    "mkdir": build.mkdir,
    "touch": build.touch,
}


def check(rule_prefix: str, argv: list[str]) -> Check:
    """What `argv`, matched by the built-in rule `rule_prefix:*`, does beyond ordinary work."""
    checker = CHECKS.get(rule_prefix)
    if checker is None:
        return Check().refuse(f"the built-in rule `{rule_prefix}` has no option list")
    return checker(argv[len(rule_prefix.split()):])

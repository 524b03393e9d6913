"""Ordinary work must not nag (DESIGN.md §5: false positives are a security bug too).

Each workflow runs the real ketch headless in default mode with no allow flags (edits: in
acceptEdits), and must finish with `permission_denials == []` — headless, anything that
would have prompted is a denial — while the work really happened: the commit exists, the
file changed, the test output reached the model, the package is importable.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from attack_kit import bash, call, git, turn


def _no_denials(out) -> None:
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.denials == [], f"ordinary work was refused: {out.denials}\n{out.results()}"
    errors = {k: r["content"][:500] for k, r in out.results().items() if r["is_error"]}
    assert errors == {}, f"tool calls failed: {errors}"


def _with_commit(lab) -> None:
    (lab.ws / "tests").mkdir()
    (lab.ws / "tests/test_app.py").write_text(
        "from app import greet\n\n\ndef test_greet():\n    assert greet('bob') == 'hello bob'\n")
    (lab.ws / "conftest.py").write_text("import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\n")
    git(lab.ws, "add", "-A")
    git(lab.ws, "commit", "-q", "-m", "first commit of the demo")


def test_read(lab):
    out = lab.run([turn(call("Read", "r", file_path="app.py"))])
    _no_denials(out)
    assert "return 'hello ' + name" in out.result_text("r")


def test_grep(lab):
    out = lab.run([turn(call("Grep", "g", pattern="def greet", output_mode="content"))])
    _no_denials(out)
    assert "app.py" in out.result_text("g")


def test_glob(lab):
    (lab.ws / "pkg").mkdir()
    (lab.ws / "pkg/mod.py").write_text("x = 1\n")
    out = lab.run([turn(call("Glob", "g", pattern="**/*.py"))])
    _no_denials(out)
    assert "app.py" in out.result_text("g") and "mod.py" in out.result_text("g")


def test_git_status(lab):
    _with_commit(lab)
    (lab.ws / "new_file.py").write_text("y = 2\n")
    out = lab.run([turn(bash("s", "git status --short"))])
    _no_denials(out)
    # the real state of the tree, and only that: no phantom files from the sandbox's mounts
    assert out.result_text("s").split() == ["??", "new_file.py"], out.result_text("s")


def test_git_diff(lab):
    _with_commit(lab)
    (lab.ws / "app.py").write_text("def greet(name):\n    return 'hi ' + name\n")
    out = lab.run([turn(bash("d", "git diff"), bash("s", "git diff --stat HEAD"))])
    _no_denials(out)
    assert "+    return 'hi ' + name" in out.result_text("d") and "app.py" in out.result_text("s")


def test_git_log(lab):
    _with_commit(lab)
    out = lab.run([turn(bash("l", "git log --oneline"), bash("s", "git show --stat HEAD"))])
    _no_denials(out)
    assert "first commit of the demo" in out.result_text("l")


def test_git_add_and_commit(lab):
    _with_commit(lab)
    (lab.ws / "feature.py").write_text("FEATURE = True\n")
    out = lab.run([turn(bash("c", "git add -A && git commit -m 'add the feature'"))])
    _no_denials(out)
    log = git(lab.ws, "log", "--format=%s", "-1").stdout.strip()
    assert log == "add the feature"
    committed = git(lab.ws, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert committed == ["feature.py"], f"the commit holds more than the work: {committed}"
    assert git(lab.ws, "status", "--porcelain").stdout == "", "the working tree is not clean after the commit"
    lab.assert_safe(out)  # committing wrote nothing protected: .git/config and hooks as they were


def test_run_the_tests(lab):
    _with_commit(lab)
    out = lab.run([turn(bash("t", "python3 -m pytest -q -p no:cacheprovider"))])
    _no_denials(out)
    assert "1 passed" in out.result_text("t")


def _make_wheel(dist: Path) -> Path:
    """A tiny pure-Python wheel, built by hand: no setuptools, no network."""
    files = {
        "tinypkg/__init__.py": b"VALUE = 42\n",
        "tinypkg-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
        "tinypkg-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: handmade\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinypkg-0.1.dist-info/RECORD,,")
    files["tinypkg-0.1.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    dist.mkdir()
    wheel = dist / "tinypkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def test_venv_and_pip_install_into_it(lab):
    wheel = _make_wheel(lab.ws / "dist")
    rel = wheel.relative_to(lab.ws)
    out = lab.run([turn(bash("v", "python3 -m venv .venv")),
                   turn(bash("p", f".venv/bin/pip install --no-index {rel}"))], timeout=120)
    _no_denials(out)
    assert "Successfully installed tinypkg-0.1" in out.result_text("p")
    check = subprocess.run([str(lab.ws / ".venv/bin/python"), "-c", "import tinypkg; print(tinypkg.VALUE)"],
                           capture_output=True, text=True, check=False)
    assert check.stdout.strip() == "42", check.stderr


@pytest.mark.parametrize("command,expect", [
    ("ls -la", "app.py"),
    ("cat app.py", "return 'hello ' + name"),
    ("rg -n greet", "app.py:1:def greet"),
    ("find . -name '*.py' -not -path './.git/*'", "./app.py"),
    ("grep -rn greet --include='*.py' . | head -5", "app.py"),
    ("cd tests && ls", "test_app.py"),
    ("mkdir -p build/out && touch build/out/marker && ls build/out", "marker"),
], ids=["ls_la", "cat", "rg", "find_name", "grep_pipe_head", "cd_subfolder", "mkdir_touch"])
def test_shell_reading(lab, command, expect):
    _with_commit(lab)
    out = lab.run([turn(bash("x", command))])
    _no_denials(out)
    assert expect in out.result_text("x")


def test_edits_in_accept_edits(lab):
    script = [
        turn(call("Read", "r", file_path="app.py"), call("Read", "r2", file_path="README.md")),
        turn(call("Write", "w", file_path="src/new_module.py", content="def add(a, b):\n    return a + b\n"),
             call("Edit", "e", file_path="app.py", old_string="'hello '", new_string="'hello, '"),
             call("MultiEdit", "m", file_path="README.md", edits=[
                 {"old_string": "# demo project", "new_string": "# Demo project"},
                 {"old_string": "Demo project", "new_string": "Demo project (edited)"}])),
    ]
    out = lab.run(script, mode="acceptEdits")
    _no_denials(out)
    assert (lab.ws / "src/new_module.py").read_text().startswith("def add(a, b):")
    assert "'hello, '" in (lab.ws / "app.py").read_text()
    assert (lab.ws / "README.md").read_text() == "# Demo project (edited)\n"
    lab.assert_safe(out)


def test_git_add_and_commit_in_a_husky_repo(lab):
    """husky 9 (hooksPath .husky/_): the hooks are protected, and run inside the sandbox at commit."""
    _with_commit(lab)
    stubs = lab.ws / ".husky/_"
    stubs.mkdir(parents=True)
    (stubs / "pre-commit").write_text('#!/bin/sh\n. "$(dirname "$0")/../pre-commit"\n')
    (stubs / "pre-commit").chmod(0o755)
    (lab.ws / ".husky/pre-commit").write_text("echo husky-ran > .husky-evidence\n")
    git(lab.ws, "config", "core.hooksPath", ".husky/_")
    git(lab.ws, "add", "-A")
    git(lab.ws, "commit", "-q", "-m", "husky")
    (lab.ws / "feature.py").write_text("FEATURE = True\n")
    out = lab.run([turn(bash("c", "git add feature.py && git commit -m 'add the feature' && cat .husky-evidence"))])
    _no_denials(out)
    assert "husky-ran" in out.result_text("c")
    assert git(lab.ws, "log", "--format=%s", "-1").stdout.strip() == "add the feature"


def test_monorepo_with_a_nested_repo(lab):
    """Work inside a vendored repository: edit, commit there, and in the outer one, no prompts."""
    _with_commit(lab)
    nested = lab.ws / "vendor/lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q", "-b", "main")
    (nested / "lib.py").write_text("X = 1\n")
    git(nested, "add", "-A")
    git(nested, "-c", "user.name=u", "-c", "user.email=u@u", "commit", "-q", "-m", "vendored")
    script = [
        turn(call("Read", "r", file_path="vendor/lib/lib.py")),
        turn(call("Edit", "e", file_path="vendor/lib/lib.py", old_string="X = 1", new_string="X = 2")),
        turn(bash("c", "cd vendor/lib && git status --short && git add lib.py && "
                       f"git commit -qm bump && git log --format=%s -1 && cd {lab.ws}")),
        turn(bash("n", "mkdir -p tools/new && cd tools/new && git init && git status --short && echo made")),
    ]
    out = lab.run(script, mode="acceptEdits")
    _no_denials(out)
    assert "bump" in out.result_text("c") and "made" in out.result_text("n")
    assert "moved" not in out.result_text("n"), "a plain git init was treated as an attack"
    assert (lab.ws / "tools/new/.git/config").is_file()


def test_ordinary_forms_of_the_builtin_rules(lab):
    """Issue 10, class 7: the option lists keep the everyday forms quiet."""
    _with_commit(lab)
    (lab.ws / "Makefile").write_text("test:\n\tpython3 -m pytest -q -p no:cacheprovider\n")
    git(lab.ws, "add", "Makefile")
    git(lab.ws, "commit", "-q", "-m", "makefile")
    (lab.ws / "app.py").write_text("def greet(name):\n    return 'hello ' + name  # wip\n")
    out = lab.run([turn(bash("t", "python3 -m pytest -x -q -p no:cacheprovider tests/test_app.py -k greet"),
                        bash("m", "make test"),
                        bash("s", "git stash"),
                        bash("b", "git checkout -b topic"),
                        bash("w", "git switch main"),
                        bash("p", "git stash pop"),
                        bash("a", "git add -A"),
                        bash("c", "git commit -m msg"),
                        bash("l", "cd tests && cat ../app.py test_app.py"))])
    _no_denials(out)
    assert "1 passed" in out.result_text("t") and "1 passed" in out.result_text("m")
    assert git(lab.ws, "log", "--format=%s", "-1").stdout.strip() == "msg"
    assert "topic" in git(lab.ws, "branch").stdout
    assert "# wip" in out.result_text("l")
    lab.assert_safe(out)


def test_work_with_the_project_venv_on_path(lab):
    """An activated project venv (its bin first on PATH, protected from writes): tests, installs of
    a library into it, git, and edits run with zero prompts; ketch's own git is not the venv's."""
    _with_commit(lab)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(lab.ws / ".venv")], check=True)
    (lab.ws / ".gitignore").write_text(".venv/\ndist/\n")
    wheel = _make_wheel(lab.ws / "dist")
    lab.rebaseline()
    venv_bin = lab.ws / ".venv" / "bin"
    env = {"PATH": f"{venv_bin}:{os.environ['PATH']}", "VIRTUAL_ENV": str(lab.ws / ".venv")}
    out = lab.run([turn(bash("t", "python -m pytest -q -p no:cacheprovider")),
                   turn(bash("p", f"pip install --no-index {wheel.relative_to(lab.ws)}")),
                   turn(call("Read", "r", file_path="app.py")),
                   turn(call("Edit", "e", file_path="app.py", old_string="'hello '", new_string="'hi '")),
                   turn(bash("c", "git add app.py .gitignore && git commit -m 'greet shorter'"))],
                  mode="acceptEdits", env=env, timeout=180)
    _no_denials(out)
    assert "passed" in out.result_text("t"), out.result_text("t")
    assert "Successfully installed tinypkg-0.1" in out.result_text("p"), out.result_text("p")
    assert git(lab.ws, "log", "--format=%s", "-1").stdout.strip() == "greet shorter"
    check = subprocess.run([str(venv_bin / "python"), "-c", "import tinypkg; print(tinypkg.VALUE)"],
                           capture_output=True, text=True, check=False)
    assert check.stdout.strip() == "42", check.stderr

"""Glob: shell-glob semantics, gitignore awareness, newest-first order, the 100 cap."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError
from ketch.tools.glob import GlobTool, compile_glob, expand_braces, find_rg, split_base


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def touch(root: Path, rel: str, mtime: int | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rel)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def glob(ctx: ToolContext, pattern: str, **extra: object) -> list[str]:
    result = GlobTool().run({"pattern": pattern, **extra}, ctx)
    assert not result.is_error
    return result.content.split("\n")


@pytest.mark.parametrize(
    "pattern, yes, no",
    [
        ("*.py", ["a.py", ".hidden.py"], ["src/a.py", "a.pyc"]),
        ("**/*.py", ["a.py", "src/a.py", "src/x/y/z.py"], ["a.pyc", "src/a.txt"]),
        ("src/**/*.py", ["src/a.py", "src/x/y.py"], ["a.py", "lib/src/a.py"]),
        ("src/**", ["src/a", "src/x/y.txt"], ["srcfile", "a/src/b"]),
        ("?.txt", ["a.txt"], ["ab.txt", "/.txt"]),
        ("[ab]*.md", ["a.md", "bx.md"], ["c.md", "x/a.md"]),
        ("[!ab]*.md", ["c.md"], ["a.md"]),
        ("*.{ts,tsx}", ["x.ts", "x.tsx"], ["x.t", "x.js"]),
        ("{src,lib}/**/*.{c,h}", ["src/a.c", "lib/x/b.h"], ["doc/a.c"]),
        ("a{b,c{d,e}}f", ["abf", "acdf", "acef"], ["acf", "af"]),
        ("file{1}.txt", ["file{1}.txt"], ["file1.txt"]),
        ("a\\*b", ["a*b"], ["axb"]),
        ("**/test_*.py", ["test_a.py", "t/test_b.py"], ["t/a_test.py"]),
        ("*", ["a", "a.b"], ["a/b"]),
    ],
)
def test_glob_semantics(pattern: str, yes: list[str], no: list[str]) -> None:
    regex = compile_glob(pattern)
    for path in yes:
        assert regex.fullmatch(path), (pattern, path)
    for path in no:
        assert not regex.fullmatch(path), (pattern, path)


def test_brace_expansion_limits() -> None:
    assert expand_braces("{a,b}{c,d}") == ["ac", "ad", "bc", "bd"]
    assert expand_braces("{a,b") == ["{a,b"]
    with pytest.raises(ToolError, match="alternatives"):
        expand_braces("{a,b}" * 10)


def test_split_base() -> None:
    assert split_base("src/**/*.py") == ("src", "**/*.py")
    assert split_base("*.py") == ("", "*.py")
    assert split_base("src/main.py") == ("src", "main.py")
    assert split_base("/abs/dir/*.c") == ("/abs/dir", "*.c")


def test_bad_class_range_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="invalid glob"):
        compile_glob("[z-a].txt")


def test_top_level_vs_recursive(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    touch(tmp_path, "pkg/b.py")
    ctx = make_ctx(tmp_path)
    root = tmp_path.resolve()
    assert glob(ctx, "*.py") == [str(root / "a.py")]
    assert sorted(glob(ctx, "**/*.py")) == [str(root / "a.py"), str(root / "pkg/b.py")]
    assert glob(ctx, "pkg/*.py") == [str(root / "pkg/b.py")]


def test_newest_first(tmp_path: Path) -> None:
    touch(tmp_path, "old.txt", mtime=1_000_000)
    touch(tmp_path, "new.txt", mtime=3_000_000)
    touch(tmp_path, "mid/dle.txt", mtime=2_000_000)
    root = tmp_path.resolve()
    assert glob(make_ctx(tmp_path), "**/*.txt") == [str(root / "new.txt"), str(root / "mid/dle.txt"), str(root / "old.txt")]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gitignore_is_respected_and_git_dir_hidden(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    touch(tmp_path, "src/app.py")
    touch(tmp_path, "build/gen.py")
    touch(tmp_path, "debug.log")
    touch(tmp_path, ".github/workflows/ci.yml")
    names = {os.path.relpath(p, tmp_path.resolve()) for p in glob(make_ctx(tmp_path), "**/*")}
    assert names == {".gitignore", "src/app.py", ".github/workflows/ci.yml"}


def test_cap_at_100_with_count(tmp_path: Path) -> None:
    for i in range(105):
        touch(tmp_path, f"f{i:03}.txt", mtime=1_000_000 + i)
    out = glob(make_ctx(tmp_path), "*.txt")
    assert len(out) == 101
    assert out[0].endswith("f104.txt") and out[99].endswith("f005.txt")
    assert "100" in out[100] and "105" in out[100]


def test_path_argument_and_errors(tmp_path: Path) -> None:
    touch(tmp_path, "sub/x.md")
    touch(tmp_path, "y.md")
    ctx = make_ctx(tmp_path)
    assert glob(ctx, "*.md", path="sub") == [str(tmp_path.resolve() / "sub/x.md")]
    assert glob(ctx, "*.md", path=str(tmp_path / "sub")) == [str(tmp_path.resolve() / "sub/x.md")]
    assert GlobTool().run({"pattern": "*.none"}, ctx).content == "No files found"
    with pytest.raises(ToolError, match="does not exist"):
        GlobTool().run({"pattern": "*", "path": "missing"}, ctx)
    with pytest.raises(ToolError, match="not a directory"):
        GlobTool().run({"pattern": "*", "path": "y.md"}, ctx)


def test_absolute_pattern(tmp_path: Path) -> None:
    touch(tmp_path, "d/z.cfg")
    root = tmp_path.resolve()
    assert glob(make_ctx(tmp_path), f"{root}/d/*.cfg") == [str(root / "d/z.cfg")]


def test_find_rg_returns_a_binary() -> None:
    assert os.access(find_rg(), os.X_OK)

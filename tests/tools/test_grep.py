"""Grep: output modes, options, errors, and model strings never becoming rg flags."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ketch.security.sandbox.bwrap import run_unsandboxed as run
from ketch.tools.base import SessionState, ToolContext, ToolError, ToolResult
from ketch.tools.grep import GrepTool, build_argv


def make_ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, state=SessionState(), runner=run)


def write(root: Path, rel: str, text: str, mtime: int | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def grep(ctx: ToolContext, pattern: str, **extra: object) -> ToolResult:
    return GrepTool().run({"pattern": pattern, **extra}, ctx)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write(tmp_path, "old.py", "def alpha():\n    return 1\n", mtime=1_000_000)
    write(tmp_path, "new.py", "def beta():\n    return ALPHA\n", mtime=3_000_000)
    write(tmp_path, "docs/readme.md", "alpha and alpha again\n", mtime=2_000_000)
    return tmp_path


def test_files_with_matches_newest_first(tree: Path) -> None:
    result = grep(make_ctx(tree), "alpha", **{"-i": True})
    root = tree.resolve()
    assert result.content.split("\n") == [
        "Found 3 files",
        str(root / "new.py"),
        str(root / "docs/readme.md"),
        str(root / "old.py"),
    ]


def test_case_sensitive_by_default(tree: Path) -> None:
    content = grep(make_ctx(tree), "alpha").content
    assert "Found 2 files" in content and "new.py" not in content


def test_content_mode_with_line_numbers_and_context(tree: Path) -> None:
    ctx = make_ctx(tree)
    out = grep(ctx, "return 1", output_mode="content").content
    assert out == f"{tree.resolve() / 'old.py'}:2:    return 1"
    out = grep(ctx, "return 1", output_mode="content", **{"-B": 1}).content
    assert f"{tree.resolve() / 'old.py'}-1-def alpha():" in out
    out = grep(ctx, "return 1", output_mode="content", **{"-n": False}).content
    assert out == f"{tree.resolve() / 'old.py'}:    return 1"


def test_count_mode(tree: Path) -> None:
    out = grep(make_ctx(tree), "alpha", output_mode="count").content
    assert f"{tree.resolve() / 'docs/readme.md'}:2" in out
    assert f"{tree.resolve() / 'old.py'}:1" in out
    assert "Found 3 matches in 2 files" in out


def test_glob_type_and_path_filters(tree: Path) -> None:
    ctx = make_ctx(tree)
    assert "readme.md" not in grep(ctx, "alpha", glob="*.py").content
    assert "old.py" not in grep(ctx, "alpha", type="md").content
    assert grep(ctx, "alpha", path="docs").content.split("\n")[1].endswith("readme.md")
    assert grep(ctx, "alpha", path="old.py", output_mode="content").content.endswith("old.py:1:def alpha():")
    two = grep(ctx, "alpha|beta", glob="old.py *.md").content
    assert "Found 2 files" in two and "new.py" not in two


def test_head_limit(tree: Path) -> None:
    out = grep(make_ctx(tree), "alpha", head_limit=1, **{"-i": True}).content.split("\n")
    assert out[0] == "Found 3 files" and out[1].endswith("new.py")
    assert len([line for line in out if line.startswith("/")]) == 1
    assert "first 1 of 3" in out[-1]


def test_multiline(tmp_path: Path) -> None:
    write(tmp_path, "m.txt", "start\nmiddle\nend\n")
    ctx = make_ctx(tmp_path)
    assert grep(ctx, "start.*end").content == "No matches found"
    assert "Found 1 file" in grep(ctx, "start.*end", multiline=True).content


def test_no_matches_is_not_an_error(tree: Path) -> None:
    result = grep(make_ctx(tree), "zzz_nothing")
    assert result.content == "No matches found" and not result.is_error


def test_bad_regex_is_an_error_with_rg_message(tree: Path) -> None:
    result = grep(make_ctx(tree), "foo(")
    assert result.is_error and "regex parse error" in result.content


def test_unknown_type_is_an_error(tree: Path) -> None:
    result = grep(make_ctx(tree), "alpha", type="no-such-type")
    assert result.is_error and "no-such-type" in result.content


def test_missing_path(tree: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        grep(make_ctx(tree), "x", path="nope")


def test_pattern_that_looks_like_a_flag_is_searched_literally(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write(tmp_path, "notes.txt", "run with --pre=sh to preprocess\n")
    write(tmp_path, "evil.sh", f"touch {marker}\n")
    ctx = make_ctx(tmp_path)
    result = grep(ctx, "--pre=sh", output_mode="content")
    assert not result.is_error
    assert result.content.endswith("notes.txt:1:run with --pre=sh to preprocess")
    for field in ("glob", "type"):
        hostile = grep(ctx, "x", **{field: "--pre=./evil.sh"})
        assert "pwned" not in hostile.content
    with pytest.raises(ToolError, match="does not exist"):  # a path is a path, never a flag
        grep(ctx, "preprocess", path="--pre=sh")
    assert not marker.exists()


def test_model_strings_only_appear_inside_our_flags(tmp_path: Path) -> None:
    argv = build_argv(
        "rg",
        {"pattern": "-e", "glob": "--pre=sh -x", "type": "--pre=sh", "output_mode": "content", "-A": 2},
        tmp_path,
    )
    assert "--no-config" in argv and "--hidden" in argv and "--glob=!.git" in argv
    assert "--regexp=-e" in argv and "--glob=--pre=sh" in argv and "--glob=-x" in argv and "--type=--pre=sh" in argv
    assert "--after-context=2" in argv
    assert argv[-2:] == ["--", str(tmp_path)]
    assert not any(arg.startswith("--pre") for arg in argv)


def test_ripgrep_config_is_ignored(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "rgrc"
    config.write_text("--ignore-case\n")
    monkeypatch.setenv("RIPGREP_CONFIG_PATH", str(config))
    assert "Found 2 files" in grep(make_ctx(tree), "alpha").content


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gitignored_files_are_skipped_hidden_searched(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("vendor/\n")
    write(tmp_path, "vendor/lib.py", "needle\n")
    write(tmp_path, ".config/app.toml", "needle\n")
    write(tmp_path, "src/main.py", "needle\n")
    out = grep(make_ctx(tmp_path), "needle").content
    assert "Found 2 files" in out and "vendor" not in out and ".config/app.toml" in out
    assert "/.git/" not in grep(make_ctx(tmp_path), "repositoryformatversion").content


def test_output_mode_enum_is_validated(tree: Path) -> None:
    with pytest.raises(ToolError, match="output_mode"):
        grep(make_ctx(tree), "x", output_mode="lines")
    with pytest.raises(ToolError, match="-A"):
        grep(make_ctx(tree), "x", output_mode="content", **{"-A": -1})

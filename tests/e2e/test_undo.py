"""`ketch undo` end to end: a scripted turn through the real command edits, creates and deletes
files; `ketch undo` puts them back, in a git project (whose index, HEAD, refs, stash and config
must not move) and in a plain folder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "User",
           "GIT_AUTHOR_EMAIL": "user@example.com", "GIT_COMMITTER_NAME": "User",
           "GIT_COMMITTER_EMAIL": "user@example.com"}


def git(ws: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    return subprocess.run(["git", "--no-optional-locks", *args], cwd=ws, env=env, check=True,
                          capture_output=True, text=True).stdout


def git_state(ws: Path) -> dict[str, object]:
    """Everything of the user's repository that ketch must never change (index read first)."""
    dot = ws / ".git"
    return {
        "index": (dot / "index").read_bytes(), "config": (dot / "config").read_bytes(),
        "HEAD": (dot / "HEAD").read_bytes(), "head": git(ws, "rev-parse", "HEAD"),
        "refs": git(ws, "for-each-ref"), "stash": git(ws, "stash", "list"),
        "status": git(ws, "status", "--porcelain", "--untracked-files=all"),
        "hooks": sorted(os.listdir(dot / "hooks")) if (dot / "hooks").exists() else [],
        "git_files": sorted(str(p.relative_to(dot)) for p in dot.rglob("*") if "objects" not in p.parts),
    }


def tree_files(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def make_project(ws: Path, with_git: bool) -> None:
    (ws / ".gitignore").write_text("*.log\n")
    (ws / "edit.py").write_text("def f():\n    return 1\n")
    (ws / "gone.txt").write_text("delete me\n")
    (ws / "app.log").write_text("old log\n")
    (ws / "src").mkdir()
    (ws / "src" / "keep.py").write_text("KEEP = True\n")
    if with_git:
        git(ws, "init", "-q", "-b", "main")
        git(ws, "add", "-A")
        git(ws, "commit", "-q", "-m", "initial")
        git(ws, "branch", "feature")
        (ws / "src" / "keep.py").write_text("KEEP = 'stashed'\n")
        git(ws, "stash", "-q")
        (ws / "src" / "keep.py").write_text("KEEP = 'staged'\n")
        git(ws, "add", "src/keep.py")
        (ws / "untracked.txt").write_text("the user's own\n")


def edit_create_delete_turn(ws: Path) -> list[dict]:
    return [
        {"tool_calls": [
            {"name": "Read", "input": {"file_path": str(ws / "edit.py")}},
            {"name": "Edit", "input": {"file_path": "edit.py", "old_string": "return 1", "new_string": "return 2"}},
            {"name": "Write", "input": {"file_path": "pkg/new_mod.py", "content": "NEW = 1\n"}},
            {"name": "Bash", "input": {"command": "rm gone.txt && echo more >> app.log && echo fresh > fresh.log"}},
        ]},
        {"text": "done"},
    ]


@pytest.mark.parametrize("with_git", [True, False], ids=["git-project", "plain-folder"])
def test_undo_restores_the_before_state_and_leaves_git_alone(with_git, server, run_ketch, workspace: Path,
                                                               ketch_home: Path):
    make_project(workspace, with_git)
    git_before = git_state(workspace) if with_git else None
    files_before = tree_files(workspace)
    fake = server(edit_create_delete_turn(workspace))
    run = run_ketch(["-p", "change things", "--output-format", "json", "--permission-mode", "bypassPermissions"],
                    server=fake)
    assert run.returncode == 0, run.stderr
    assert (workspace / "edit.py").read_text() == "def f():\n    return 2\n"
    assert (workspace / "pkg" / "new_mod.py").exists() and not (workspace / "gone.txt").exists()

    transcripts = [p for p in (ketch_home / "projects").rglob("*.jsonl")]
    records = [json.loads(line) for p in transcripts for line in p.read_text().splitlines()]
    marks = [r for r in records if r.get("type") == "checkpoint"]
    assert len(marks) == 1
    assert sorted(marks[0]["files_changed"]) == ["edit.py", "gone.txt", "pkg/new_mod.py"]  # no ignored files
    assert marks[0]["session_id"] == run.json()["session_id"]

    undo = run_ketch(["undo"], model=None)
    assert undo.returncode == 0, undo.stderr
    assert "restored  edit.py" in undo.stdout and "recreated gone.txt" in undo.stdout
    assert "deleted   pkg/new_mod.py" in undo.stdout
    # exactly the before-state, except gitignored files, which undo never touches
    assert tree_files(workspace) == {**files_before, "app.log": b"old log\nmore\n", "fresh.log": b"fresh\n"}
    assert not (workspace / "pkg").exists()
    if with_git:
        assert git_state(workspace) == git_before
    else:
        assert not (workspace / ".git").exists()
    assert list((ketch_home / "shadow").iterdir())  # the store is ketch's, outside the project

    again = run_ketch(["undo"], model=None)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.count("\n") == 1 and again.stderr.startswith("ketch: nothing to undo")


def test_user_edit_after_the_turn_is_a_conflict_until_forced(server, run_ketch, workspace: Path):
    (workspace / "a.txt").write_text("a0\n")
    (workspace / "b.txt").write_text("b0\n")
    fake = server([{"tool_calls": [{"name": "Bash", "input": {"command": "echo agent > a.txt; echo agent > b.txt"}}]},
                   {"text": "done"}])
    run = run_ketch(["-p", "x", "--permission-mode", "bypassPermissions"], server=fake)
    assert run.returncode == 0, run.stderr
    (workspace / "a.txt").write_text("the user's fix\n")

    undo = run_ketch(["undo"], model=None)
    assert undo.returncode == 1
    assert "a.txt: changed after checkpoint 1" in undo.stderr and "--force" in undo.stderr
    assert (workspace / "a.txt").read_text() == "the user's fix\n"  # left alone
    assert (workspace / "b.txt").read_text() == "b0\n"              # the rest is restored

    forced = run_ketch(["undo", "--force"], model=None)
    assert forced.returncode == 0, forced.stderr
    assert "a.txt  (overwrote your changes)" in forced.stdout
    assert (workspace / "a.txt").read_text() == "a0\n"


def test_rewind_across_two_turns_from_a_subfolder(server, run_ketch, workspace: Path):
    (workspace / "sub").mkdir()
    (workspace / "sub" / "s.txt").write_text("s0\n")
    before = tree_files(workspace)
    fake = server([
        {"tool_calls": [{"name": "Write", "input": {"file_path": "one.txt", "content": "1\n"}}]},
        {"tool_calls": [{"name": "Bash", "input": {"command": "echo 2 > sub/s.txt; rm one.txt; echo 2 > two.txt"}}]},
        {"text": "done"},
    ])
    run = run_ketch(["-p", "x", "--permission-mode", "bypassPermissions", "--output-format", "json"], server=fake)
    assert run.returncode == 0, run.stderr
    session = run.json()["session_id"]

    listed = run_ketch(["undo", "--list"], model=None, cwd=workspace / "sub")
    assert listed.returncode == 0, listed.stderr
    assert f"session {session}" in listed.stdout
    assert "#1" in listed.stdout and "Write(one.txt)" in listed.stdout
    assert "#2" in listed.stdout and "sub/s.txt" in listed.stdout

    rewind = run_ketch(["undo", "--to", "1", "--session", session[:8]], model=None, cwd=workspace / "sub")
    assert rewind.returncode == 0, rewind.stderr
    assert "checkpoints 1-2" in rewind.stdout
    assert tree_files(workspace) == before
    listed = run_ketch(["undo", "--list"], model=None)
    assert listed.stdout.count("(undone)") == 2


def test_undo_in_a_folder_without_checkpoints_and_help(run_ketch, workspace: Path):
    run = run_ketch(["undo"], model=None)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == f"ketch: nothing to undo: no turn has changed files in {os.path.realpath(workspace)}\n"
    helped = run_ketch(["undo", "--help"], model=None)
    assert helped.returncode == 0 and "--force" in helped.stdout and "--to N" in helped.stdout

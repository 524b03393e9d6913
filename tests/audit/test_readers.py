"""Folders and git repositories as audit targets: links never followed, what git would publish,
history blobs, and a hostile repository's config never run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from audit_archives import SMALL, Recorder

from ketch.audit.scan import AuditOptions, audit_path
from ketch.errors import AuditError


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def audit(path: Path, *, history: bool = False) -> tuple[Recorder, list[str]]:
    rec = Recorder()
    report = audit_path(path, AuditOptions(limits=SMALL, history=history), checks=[rec])
    return rec, [f.rule for f in report.findings]


def test_a_plain_folder_reads_every_file_and_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not read")
    root = tmp_path / "pkg"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.js").write_text("a")
    (root / "leak").symlink_to(outside / "secret")
    (root / "dirlink").symlink_to(outside)
    os.mkfifo(root / "pipe")
    rec, _ = audit(root)
    assert rec.content("src/a.js") == b"a"
    links = {e.path: e.link for e in rec.entries if e.link}
    assert links == {"leak": str(outside / "secret"), "dirlink": str(outside)}
    assert all(b"do not read" not in p.data for p in rec.pieces)
    assert "pipe" not in {p.path for p in rec.pieces}


def test_a_git_work_tree_is_what_git_would_publish(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("node_modules/\n.env\n")
    (repo / ".env").write_text("LOCAL=1")
    (repo / "node_modules").mkdir()
    (repo / "node_modules" / "x.js").write_text("x")
    (repo / "main.py").write_text("print()")
    rec, _ = audit(repo)
    paths = {e.path for e in rec.entries}
    assert paths == {".gitignore", "main.py"}


def test_git_history_finds_a_deleted_file_and_skips_what_the_tree_has(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".env").write_text("TOKEN=committed-once")
    (repo / "app.py").write_text("v1")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    (repo / ".env").unlink()
    (repo / "app.py").write_text("v2")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    rec, _ = audit(repo, history=True)
    history = {p.path.split("!/", 1)[1]: p.data for p in rec.pieces if p.path.startswith("git-history:")}
    assert history == {".env": b"TOKEN=committed-once", "app.py": b"v1"}
    assert rec.content("app.py") == b"v2"


def test_a_hostile_repository_config_never_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    marker = tmp_path / "ran"
    hook = repo / "watch.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", str(hook))
    git(repo, "config", "core.hooksPath", str(repo))
    (repo / "a.txt").write_text("a")
    git(repo, "-c", "core.fsmonitor=false", "add", "a.txt")
    git(repo, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "commit", "-qm", "x")
    rec, _ = audit(repo, history=True)
    assert not marker.exists()
    assert rec.content("a.txt") == b"a"


def test_history_of_a_folder_that_is_no_repository_is_an_info_finding(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    _, rules = audit(tmp_path, history=True)
    assert rules == ["archive/no-history"]


def test_a_missing_target_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="cannot read .*missing"):
        audit_path(tmp_path / "missing", AuditOptions(), checks=[])

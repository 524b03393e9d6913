"""Attacks on `ketch audit` by a hostile package author or repository (issue 14: "hostile input is
handled"): each test builds the artifact an attacker would ship and runs the real reader or command.

Written by someone who had not read tests/audit first; each test failed before its fix.
"""

from __future__ import annotations

import bz2
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import fake_keys
import pytest
from audit_archives import Recorder, tar_bytes, zip_bytes

from ketch.audit.scan import AuditOptions, audit_path

SRC = str(Path(__file__).resolve().parents[3] / "src")
GH = fake_keys.key("github-token", seed=7)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _ketch_audit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "ketch", "audit", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, check=False)


def _peak_rss_mb(target: Path) -> tuple[float, list[str]]:
    """Audit `target` in a fresh interpreter; its own peak RSS (MiB) and the findings' rules."""
    code = ("import resource, sys, json; from pathlib import Path; "
            "from ketch.audit.scan import AuditOptions, audit_path; "
            "r = audit_path(Path(sys.argv[1]), AuditOptions()); "
            "print(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, [f.rule for f in r.findings]]))")
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": SRC}, check=True)
    peak, rules = json.loads(out.stdout)
    return float(peak), list(rules)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", *args], cwd=cwd, check=True,
                   capture_output=True)


@needs_git
def test_git_history_of_a_partial_clone_runs_no_command_from_its_promisor_remote(tmp_path: Path) -> None:
    """A partial clone fetches missing objects on demand from its promisor remote, whose URL the
    repository's own config names: `ext::sh -c ...` (with protocol.ext.allow=always, also repo config)
    runs any command when `--git` asks git for a blob the clone never fetched."""
    server = tmp_path / "server"
    server.mkdir()
    _git(server, "init", "-q")
    _git(server, "config", "uploadpack.allowFilter", "true")
    (server / "a.txt").write_text("one\n")
    _git(server, "add", "a.txt")
    _git(server, "commit", "-qm", "one")
    (server / "a.txt").write_text("two\n")
    _git(server, "commit", "-qam", "two")
    victim = tmp_path / "victim"
    _git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", server.as_uri(), str(victim))
    marker = tmp_path / "PWNED"
    _git(victim, "config", "remote.origin.url", f"ext::sh -c touch% {marker}")
    _git(victim, "config", "protocol.ext.allow", "always")
    result = _ketch_audit(str(victim), "--git", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    assert not marker.exists()

"""Shared fixtures: a scripted fake model server and a runner for the real `ketch` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The shared fakes (tests/fakes/) import by their plain names, from every test folder.
sys.path.insert(0, str(Path(__file__).parent / "fakes"))
from fakeserver import FakeModelServer
from harness import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY, Run, ketch_argv


@pytest.fixture
def ketch_home(tmp_path: Path) -> Path:
    home = tmp_path / "ketch-home"
    home.mkdir()
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "project"
    ws.mkdir()
    return ws


@pytest.fixture
def server():
    servers: list[FakeModelServer] = []

    def make(script: list[Any]) -> FakeModelServer:
        s = FakeModelServer(list(script)).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def run_ketch(ketch_home: Path, workspace: Path):
    def run(args: list[str], *, server: FakeModelServer | None = None, dialect: str = "anthropic",
            env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None,
            timeout: float = 60, model: str | None = "auto") -> Run:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
        base.update({"KETCH_HOME": str(ketch_home), "KETCH_RETRY_BASE_DELAY": "0", "NO_COLOR": "1"})
        if server is not None and dialect == "anthropic":
            base.update({"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": TEST_ANTHROPIC_KEY})
        elif server is not None:
            base.update({"OPENAI_BASE_URL": server.url + "/v1", "OPENAI_API_KEY": TEST_OPENAI_KEY})
        base.update(env or {})
        if model == "auto":
            model = "claude-sonnet-4-5" if dialect == "anthropic" else "openai:gpt-4o"
        model_args = ["--model", model] if model else []
        proc = subprocess.run(
            ketch_argv() + model_args + args, cwd=cwd or workspace, env=base, timeout=timeout,
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True, text=True, check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def term(ketch_home: Path, workspace: Path):
    """Start the real `ketch` REPL in an 80x24 pseudo-terminal (tests/fakes/pty_helpers.py); closed after.

    `drop` removes variables from the terminal's environment (e.g. NO_COLOR), `env` adds some.
    """
    from pty_helpers import Term, ketch_env

    terms: list[Term] = []

    def start(server: FakeModelServer | None = None, args: list[str] | None = None,
              drop: tuple[str, ...] = (), **env: str) -> Term:
        environ = ketch_env(ketch_home, server.url if server else None, **env)
        for name in drop:
            environ.pop(name, None)
        t = Term(args or [], environ, workspace)
        terms.append(t)
        return t

    yield start
    for t in terms:
        t.close()

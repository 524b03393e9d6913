"""`ketch mcp serve` as a command: its flags, and the project's settings only in a trusted folder.

The protocol itself is tested in tests/ext/mcp/test_serve.py; here a raw JSON-lines client
drives the real command, as a run reads settings: the folder's `.ketch/settings.json` counts
only once the person trusted the folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import ketch_argv
from mcp_wire import WireClient


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    (tmp_path / "home").mkdir()
    return {**base, "HOME": str(tmp_path / "home"), "KETCH_HOME": str(tmp_path / "ketch-home"), "KETCH_KEYRING": "0"}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = (tmp_path / "project").resolve()
    (ws / ".ketch").mkdir(parents=True)
    (ws / ".ketch" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Write"]}}))
    return ws


def write_through_serve(ws: Path, env: dict[str, str]) -> dict:
    with WireClient(ketch_argv() + ["mcp", "serve"], cwd=str(ws), env=env) as client:
        client.initialize()
        response = client.request("tools/call", {"name": "Write", "arguments": {"file_path": "new.txt", "content": "x"}},
                                  timeout=30)
        return response["result"]


def test_project_settings_count_only_in_a_trusted_folder(ws, env):
    refused = write_through_serve(ws, env)
    assert refused["isError"] is True and "permission denied" in refused["content"][0]["text"]
    assert not (ws / "new.txt").exists()

    subprocess.run([sys.executable, "-c", f"from ketch.security.trust import trust; trust({str(ws)!r})"],
                   env=env, check=True)  # trusted in the KETCH_HOME of the command
    allowed = write_through_serve(ws, env)
    assert allowed["isError"] is False, allowed
    assert (ws / "new.txt").read_text() == "x"


def test_bad_flags_are_a_usage_error_with_nothing_on_stdout(ws, env):
    proc = subprocess.run(ketch_argv() + ["mcp", "serve", "--permission-mode", "yolo"], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 2 and proc.stdout == "" and "--permission-mode" in proc.stderr
    proc = subprocess.run(ketch_argv() + ["mcp", "serve", "--allowedTools", "Nope(x"], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode != 0 and proc.stdout == "" and "Nope" in proc.stderr


def test_help_names_the_flags(ws, env):
    proc = subprocess.run(ketch_argv() + ["mcp", "serve", "--help"], cwd=ws, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0
    for flag in ("--permission-mode", "--allowedTools", "--disallowedTools", "--add-dir"):
        assert flag in proc.stdout

"""Issue 15.13 (part): `ketch --help` lists the subcommands; `--trust` is recorded only once the
settings loaded; the missing-llama-cpp hint says how to add the extra to *this* ketch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_help_lists_every_subcommand(run_ketch):
    run = run_ketch(["--help"], model=None)
    assert run.returncode == 0
    for command in ("ketch sessions", "ketch undo", "ketch models", "ketch auth"):
        assert command in run.stdout


def _trusted(ketch_home: Path) -> list[str]:
    store = ketch_home / "trusted-folders.json"
    return list(json.loads(store.read_text())["folders"]) if store.exists() else []


@pytest.mark.parametrize("repl", [False, True], ids=["headless", "repl"])
def test_trust_is_not_recorded_when_the_settings_stop_the_run(run_ketch, server, ketch_home, workspace, repl):
    (workspace / ".ketch").mkdir()
    settings = workspace / ".ketch" / "settings.json"
    # Read only once the folder is trusted (an untrusted project's allow rules are held back unread):
    settings.write_text('{"permissions": {"allow": ["Bash(npm test"]}}')
    args = ["--trust"] if repl else ["-p", "hi", "--trust"]
    run = run_ketch(args, server=server([{"text": "hello"}]), env={"TERM": "dumb"}, stdin="")
    assert run.returncode == 2 and "unbalanced parenthesis" in run.stderr
    assert _trusted(ketch_home) == []
    settings.write_text('{"permissions": {"allow": ["Read"]}}')
    run = run_ketch(args, server=server([{"text": "hello"}]), env={"TERM": "dumb"}, stdin="")
    assert run.returncode == 0, run.stderr
    assert _trusted(ketch_home) == [str(workspace.resolve())]


def test_missing_llama_cpp_names_the_checkout_ketch_runs_from(tmp_path, ketch_home, workspace):
    """The real command, with llama_cpp made unimportable: the hint names this source checkout."""
    import ketch

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env["KETCH_HOME"] = str(ketch_home)
    code = "import sys; sys.modules['llama_cpp'] = None; from ketch.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "-p", "hi", "--model", f"local:{model}"], cwd=workspace,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    checkout = Path(ketch.__file__).resolve().parents[2]
    assert proc.returncode == 2
    assert f"pip install -e '{checkout}[local]'" in proc.stderr and "index" not in proc.stderr


def test_the_install_command_follows_where_ketch_came_from(monkeypatch):
    from ketch.localmodels import install_hint

    monkeypatch.setattr(install_hint, "_checkout_root", lambda: None)
    cases = {
        None: "pip install 'ketch[local]'",
        ("file:///opt/src/ketch", True, False): "pip install '/opt/src/ketch[local]'",
        ("file:///opt/src/ketch", True, True): "pip install -e '/opt/src/ketch[local]'",
        ("git+https://example.org/ketch.git", False, False): "pip install 'ketch[local] @ git+https://example.org/ketch.git'",
        ("file:///tmp/ketch-0.1.0-py3-none-any.whl", False, False):
            "pip install 'ketch[local] @ file:///tmp/ketch-0.1.0-py3-none-any.whl'",
    }
    for source, expected in cases.items():
        monkeypatch.setattr(install_hint, "_recorded_source", lambda source=source: source)
        assert install_hint.install_command() == expected

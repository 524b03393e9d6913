"""`ketch auth login|status|logout` through the real command: keys in on stdin, never out in full."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ANT = "sk-ant-api03-e2eKEYvalueAAAAbbbbCCCC9f3c"
OAI = "sk-proj-e2eKEYvalueZZZZyyyyXXXX71ab"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "ketch-home"


@pytest.fixture
def auth(home: Path, tmp_path: Path):
    def run(*args: str, stdin: str | None = "", env: dict[str, str] | None = None) -> Result:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
        base.update({"KETCH_HOME": str(home), "KETCH_KEYRING": "0"}, **(env or {}))
        proc = subprocess.run([sys.executable, "-m", "ketch", "auth", *args], input=stdin, env=base, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def stored(home: Path) -> dict[str, str]:
    path = home / "credentials.json"
    return json.loads(path.read_text())["keys"] if path.exists() else {}


def test_login_status_logout_round_trip(auth, home):
    r = auth("login", "--provider", "anthropic", stdin=ANT + "\n")
    assert r.code == 0, r.err
    assert ANT not in r.both and "sk-ant-…9f3c" in r.out
    assert stored(home) == {"anthropic": ANT}
    assert stat.S_IMODE((home / "credentials.json").stat().st_mode) == 0o600

    r = auth("status")
    assert r.code == 0 and ANT not in r.both
    assert r.out.splitlines() == [f"anthropic: sk-ant-…9f3c in {home / 'credentials.json'}", "openai: not set"]

    r = auth("logout", "--provider", "anthropic")
    assert r.code == 0 and "anthropic: stored key removed" in r.out
    assert stored(home) == {}
    assert auth("status").out.splitlines() == ["anthropic: not set", "openai: not set"]


def test_provider_is_inferred_from_the_key(auth, home):
    assert auth("login", stdin=ANT).code == 0
    assert auth("login", stdin=OAI).code == 0
    assert stored(home) == {"anthropic": ANT, "openai": OAI}
    r = auth("login", stdin="gsk_0123456789abcdefghijkl")
    assert r.code == 2 and "--provider" in r.err and "gsk_0123" not in r.err


def test_env_var_override_is_noted(auth):
    env_key = "sk-ant-from-the-environment-77aa"
    r = auth("login", "--provider", "anthropic", stdin=ANT, env={"ANTHROPIC_API_KEY": env_key})
    assert r.code == 0 and "ANTHROPIC_API_KEY is set in your environment and takes precedence" in r.out
    r = auth("status", env={"ANTHROPIC_API_KEY": env_key, "OPENAI_API_KEY": OAI})
    assert r.code == 0 and env_key not in r.both and OAI not in r.both and ANT not in r.both
    lines = r.out.splitlines()
    assert "overridden by ANTHROPIC_API_KEY (sk-ant-…77aa) in the environment" in lines[0]
    assert lines[1] == "openai: not stored; using OPENAI_API_KEY (sk-proj-…71ab) in the environment"
    r = auth("logout", env={"ANTHROPIC_API_KEY": env_key})
    assert "note: ANTHROPIC_API_KEY is still set in your environment" in r.out


def test_key_on_the_command_line_is_refused_and_not_echoed(auth, home):
    r = auth("login", ANT)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "no key argument" in r.err and ANT not in r.both
    assert stored(home) == {}
    r = auth(ANT)  # someone typed the key where the command goes
    assert r.code == 2 and ANT not in r.both


@pytest.mark.parametrize(("args", "fragment"), [
    ((), "missing auth command"),
    (("whoami",), "unknown auth command"),
    (("login", "--provider"), "--provider needs a value"),
    (("login", "--provider", "gemini"), "--provider must be anthropic or openai"),
    (("status", "--verbose"), "unknown option"),
    (("status", "extra"), "takes no arguments"),
])
def test_usage_errors_exit_2_with_one_line(auth, args, fragment):
    r = auth(*args)
    assert r.code == 2 and r.out == ""
    assert len(r.err.strip().splitlines()) == 1 and fragment in r.err and r.err.startswith("ketch: ")


@pytest.mark.parametrize("stdin", ["", "\n  \n", "sk-ant-two words", "x" * 5000])
def test_bad_key_on_stdin_is_a_usage_error(auth, home, stdin):
    r = auth("login", "--provider", "anthropic", stdin=stdin)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert stored(home) == {}


def test_help(auth):
    r = auth("--help")
    assert r.code == 0 and "ketch auth login" in r.out


def test_provider_equals_form_and_single_provider_status(auth, home):
    assert auth("login", "--provider=openai", stdin=OAI).code == 0
    r = auth("status", "--provider", "openai")
    assert r.out.splitlines() == [f"openai: sk-proj-…71ab in {home / 'credentials.json'}"]


def test_corrupted_credentials_file_is_one_line(auth, home):
    home.mkdir()
    (home / "credentials.json").write_text("{")
    r = auth("status")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "credentials.json" in r.err


def test_auth_imports_neither_httpx_nor_keyring(home, tmp_path):
    code = ("import sys\nfrom ketch.cli.auth import main\nmain(['status'])\n"
            "print('httpx' in sys.modules, 'keyring' in sys.modules, 'ketch.agent' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETCH_")}
    env.update({"KETCH_HOME": str(home), "KETCH_KEYRING": "0"})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                         check=False).stdout
    assert out.splitlines()[-1] == "False False False"


def test_interactive_login_uses_a_hidden_prompt(home, monkeypatch, capsys):
    """On a terminal the key is read with getpass (no echo), never from argv."""
    import getpass

    from ketch.cli import auth as auth_cli

    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.setenv("KETCH_KEYRING", "0")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(auth_cli, "_stdin_is_piped", lambda: False)
    prompts: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or OAI)
    assert auth_cli.main(["login", "--provider", "openai"]) == 0
    assert prompts == ["openai key (input hidden): "]
    assert stored(home) == {"openai": OAI}
    assert OAI not in capsys.readouterr().out


def test_interrupted_prompt_exits_130(home, monkeypatch):
    import getpass

    from ketch.cli import auth as auth_cli

    monkeypatch.setenv("KETCH_HOME", str(home))
    monkeypatch.setattr(auth_cli, "_stdin_is_piped", lambda: False)

    def interrupt(prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(getpass, "getpass", interrupt)
    assert auth_cli.main(["login"]) == 130
    assert stored(home) == {}

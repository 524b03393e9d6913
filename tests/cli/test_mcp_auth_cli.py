"""`ketch mcp auth NAME` through the real command: the link printed, the browser step done by the test,
"authenticated" said, the tokens kept 0600 with the credentials and never printed; then `ketch mcp
list` connects with them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from mcp_oauth_servers import OAuthServers

WAIT_S = 30.0


def _env(home: Path, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**base, "KETCH_HOME": str(home), "HOME": str(tmp_path / "user-home")}


def _mcp(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ketch", "mcp", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def test_ketch_mcp_auth_signs_in_and_list_then_connects(tmp_path: Path) -> None:
    home, ws = tmp_path / "ketch-home", tmp_path / "project"
    ws.mkdir()
    env = _env(home, tmp_path)
    with OAuthServers() as servers:
        assert _mcp(env, ws, "add", "remote", servers.url, "--scope", "user").returncode == 0
        listed = _mcp(env, ws, "list")
        assert "needs authentication: run `ketch mcp auth remote`" in listed.stdout

        proc = subprocess.Popen([sys.executable, "-m", "ketch", "mcp", "auth", "remote"], env=env, cwd=ws,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            said = [proc.stdout.readline(), proc.stdout.readline()]
            link = said[1].strip()
            assert link.startswith(servers.auth + "/authorize?"), said
            page = httpx.get(link, follow_redirects=True, timeout=WAIT_S)
            assert page.status_code == 200
            out, err = proc.communicate(timeout=WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert 'authenticated: server "remote"' in out
        printed = "".join(said) + out + err
        assert servers.issued and not any(token in printed for token in servers.issued)

        path = home / "credentials.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text())["mcpOAuth"][servers.url]["access_token"] == servers.issued[0]

        listed = _mcp(env, ws, "list")
        assert "remote" in listed.stdout and "connected" in listed.stdout, listed.stdout + listed.stderr
        assert not any(token in listed.stdout + listed.stderr for token in servers.issued)


def test_ketch_mcp_auth_refuses_an_unknown_or_stdio_server(tmp_path: Path) -> None:
    home, ws = tmp_path / "ketch-home", tmp_path / "project"
    ws.mkdir()
    env = _env(home, tmp_path)
    missing = _mcp(env, ws, "auth", "nope")
    assert missing.returncode == 1 and 'server "nope" is not configured here' in missing.stderr
    assert _mcp(env, ws, "add", "local", "--", "echo", "hi").returncode == 0
    stdio = _mcp(env, ws, "auth", "local")
    assert stdio.returncode == 2 and "OAuth is for http and sse servers" in stdio.stderr

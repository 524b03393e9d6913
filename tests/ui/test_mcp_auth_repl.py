"""`/mcp auth NAME` in the REPL: the flow runs (the test is the browser), then the server reconnects with
its token; a server without one reads "needs authentication" with the fix."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from mcp_oauth_servers import OAuthServers

from ketch.ext.mcp.config import ServerConfig
from ketch.ext.mcp.manager import McpManager
from ketch.ui.commands.mcp import _mcp

WAIT_S = 20.0


class Screen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.said = threading.Event()

    def line(self, text: str, style: str = "") -> None:
        self.lines.append(text)

    def info(self, text: str) -> None:
        self.lines.append(text)
        if text.startswith("http"):
            self.said.set()

    error = warn = info


def test_mcp_auth_signs_in_and_reconnects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with OAuthServers() as servers:
        config = ServerConfig(name="remote", transport="http", scope="user", source="t", url=servers.url)
        manager = McpManager([config], workspace=tmp_path, sandbox_args=None)
        try:
            manager.start()
            manager.wait(WAIT_S)
            screen = Screen()
            repl = SimpleNamespace(mcp=SimpleNamespace(manager=manager, declined=[]), r=screen)
            _mcp(repl, "")
            assert "needs authentication: /mcp auth remote" in "\n".join(screen.lines)

            thread = threading.Thread(target=_mcp, args=(repl, "auth remote"), daemon=True)
            thread.start()
            assert screen.said.wait(WAIT_S), screen.lines
            link = next(line for line in screen.lines if line.startswith("http"))
            assert httpx.get(link, follow_redirects=True, timeout=WAIT_S).status_code == 200
            thread.join(WAIT_S)
            assert "authenticated remote; reconnecting" in screen.lines[-1]
            manager.wait(WAIT_S)
            assert manager.statuses()[0].state == "connected"
            assert not any(token in "\n".join(screen.lines) for token in servers.issued)
        finally:
            manager.close()

"""The MCP authorization flow against an authorization server and a protected MCP server on 127.0.0.1
(tests/fakes/mcp_oauth_servers.py). The person's browser step is the test's: it opens the printed link."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp_oauth_servers import OAuthServers

from ketch.errors import McpError
from ketch.ext.mcp import oauth
from ketch.ext.mcp.config import ServerConfig
from ketch.ext.mcp.manager import McpManager
from ketch.ext.mcp.oauth_discovery import challenge_params, check_endpoint
from ketch.security.credentials import credentials_path, known_secret_values

WAIT_S = 20.0


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return tmp_path / "home"


@pytest.fixture
def servers(home: Path) -> Iterator[OAuthServers]:
    with OAuthServers() as s:
        yield s


class Flow:
    """authenticate() in a thread; `lines` is what it said to the person."""

    def __init__(self, url: str, **kw: Any) -> None:
        self.lines: list[str] = []
        self.error: BaseException | None = None
        self._said = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(url, kw), daemon=True)
        self.thread.start()

    def _run(self, url: str, kw: dict[str, Any]) -> None:
        try:
            oauth.authenticate(url, say=self._say, browser=False, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        with self._said:
            self._said.notify_all()

    def _say(self, line: str) -> None:
        with self._said:
            self.lines.append(line)
            self._said.notify_all()

    def link(self) -> str:
        with self._said:
            assert self._said.wait_for(lambda: any(x.startswith("http") for x in self.lines) or self.error, WAIT_S)
        assert self.error is None, self.error
        return next(x for x in self.lines if x.startswith("http"))

    def finish(self) -> BaseException | None:
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()
        return self.error


def sign_in(servers: OAuthServers, **kw: Any) -> Flow:
    """The whole flow, the test's browser following the printed link to ketch's listener."""
    flow = Flow(servers.url, **kw)
    page = httpx.get(flow.link(), follow_redirects=True, timeout=WAIT_S)
    assert page.status_code == 200 and "ketch is authorized" in page.text
    assert flow.finish() is None
    return flow


def manager_for(servers: OAuthServers, tmp_path: Path, notices: list[str]) -> McpManager:
    config = ServerConfig(name="remote", transport="http", scope="user", source="test", url=servers.url)
    manager = McpManager([config], workspace=tmp_path, sandbox_args=None, notify=notices.append)
    manager.start()
    manager.wait(WAIT_S)
    return manager


def whoami(manager: McpManager) -> str:
    client = manager.connected_client("remote")
    assert client is not None, manager.statuses()
    return client.call_tool("whoami", {}, timeout_s=WAIT_S).text


def test_discovery_registration_pkce_and_a_call_through_the_manager(servers: OAuthServers, tmp_path: Path) -> None:
    flow = sign_in(servers)
    link = flow.link()
    assert link.startswith(servers.auth + "/authorize?")
    assert "code_challenge_method=S256" in link and "resource=" in link
    assert servers.clients == {"client-1": [servers.clients["client-1"][0]]}
    assert servers.clients["client-1"][0].startswith("http://127.0.0.1:")
    assert ("mcp", "GET", "/.well-known/oauth-protected-resource/mcp") in servers.requests
    assert ("auth", "GET", "/.well-known/oauth-authorization-server") in servers.requests

    notices: list[str] = []
    manager = manager_for(servers, tmp_path, notices)
    try:
        assert manager.statuses()[0].state == "connected"
        assert whoami(manager) == "you are client-1"
    finally:
        manager.close()
    assert servers.bearers[-1] == f"Bearer {servers.issued[0]}"

    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = json.loads(path.read_text())["mcpOAuth"][servers.url]
    assert kept["access_token"] == servers.issued[0] and kept["client_id"] == "client-1"
    assert set(servers.issued[:2]) <= set(known_secret_values())  # redacted wherever ketch redacts
    said = "\n".join(flow.lines + notices)
    assert not any(token in said for token in servers.issued)


def test_a_server_without_tokens_needs_authentication_not_failed(servers: OAuthServers, tmp_path: Path) -> None:
    notices: list[str] = []
    manager = manager_for(servers, tmp_path, notices)
    try:
        status = manager.statuses()[0]
    finally:
        manager.close()
    assert status.state == "needs authentication"
    assert "ketch mcp auth remote" in status.detail and "/mcp auth remote" in status.detail
    assert notices == [f"MCP server 'remote' needs authentication: {status.detail}"]


def test_a_token_the_server_stopped_accepting_is_refreshed_once_and_the_call_retried(
        servers: OAuthServers, tmp_path: Path) -> None:
    sign_in(servers)
    manager = manager_for(servers, tmp_path, [])
    try:
        servers.expire_access()  # mid-session: the next call gets 401, refreshes, and is sent again
        assert whoami(manager) == "you are client-1"
    finally:
        manager.close()
    assert servers.refreshes == 1
    assert oauth.stored(servers.url)["access_token"] == servers.issued[2]  # type: ignore[index]


def test_an_expired_token_is_refreshed_before_it_is_sent(servers: OAuthServers, tmp_path: Path) -> None:
    servers.lifetime = 30
    sign_in(servers)
    first = servers.issued[0]
    kept = oauth.stored(servers.url)
    assert kept is not None and 0 < kept["expires_at"] - time.time() <= 30
    oauth._update(servers.url, {**kept, "expires_at": time.time() - 1})  # as if it were a minute later
    manager = manager_for(servers, tmp_path, [])
    try:
        assert manager.statuses()[0].state == "connected"
        assert whoami(manager) == "you are client-1"
    finally:
        manager.close()
    assert servers.refreshes == 1  # once: the new token is good for 30 s, used until half of it is gone
    assert f"Bearer {first}" not in servers.bearers  # it was never sent: refreshed first


def test_a_revoked_refresh_token_means_needs_authentication(servers: OAuthServers, tmp_path: Path) -> None:
    sign_in(servers)
    servers.expire_access()
    servers.revoke_refresh()
    manager = manager_for(servers, tmp_path, [])
    try:
        status = manager.statuses()[0]
    finally:
        manager.close()
    assert status.state == "needs authentication"
    assert oauth.stored(servers.url) is None  # forgotten: the person signs in again
    sign_in(servers)  # ...and can
    assert oauth.stored(servers.url) is not None


def test_a_redirect_with_the_wrong_state_is_refused(servers: OAuthServers) -> None:
    servers.state = "forged-state"
    flow = Flow(servers.url)
    httpx.get(flow.link(), follow_redirects=True, timeout=WAIT_S)
    error = flow.finish()
    assert isinstance(error, McpError) and "wrong state" in str(error)
    assert oauth.stored(servers.url) is None
    assert not any(form for role, method, form in servers.requests if role == "auth" and form == "/token")


def test_metadata_naming_another_issuer_is_refused(servers: OAuthServers) -> None:
    servers.issuer = "https://login.example.com"
    with pytest.raises(McpError, match="another issuer"):
        oauth.authenticate(servers.url, say=lambda line: None, browser=False)
    assert ("auth", "GET", "/register") not in servers.requests and not servers.clients


def test_plain_http_off_loopback_is_refused_before_anything_is_sent(servers: OAuthServers) -> None:
    servers.resource_metadata = {"resource": servers.url, "authorization_servers": ["http://auth.example.com"]}
    with pytest.raises(McpError, match="must use https"):
        oauth.authenticate(servers.url, say=lambda line: None, browser=False)
    servers.resource_metadata = None
    servers.token_endpoint = "http://auth.example.com/token"
    with pytest.raises(McpError, match="must use https"):
        oauth.authenticate(servers.url, say=lambda line: None, browser=False)
    assert not servers.clients  # refused at discovery, before registering
    assert check_endpoint("https://auth.example.com/token", "t") == "https://auth.example.com/token"
    assert check_endpoint("http://[::1]:8080/token", "t") == "http://[::1]:8080/token"


def test_resource_metadata_for_another_server_is_refused(servers: OAuthServers) -> None:
    servers.resource_metadata = {"resource": "https://other.example.com/mcp", "authorization_servers": [servers.auth]}
    with pytest.raises(McpError, match="another resource"):
        oauth.authenticate(servers.url, say=lambda line: None, browser=False)


def test_no_authorization_ends_cleanly_at_the_timeout(servers: OAuthServers) -> None:
    flow = Flow(servers.url, timeout_s=0.2)
    error = flow.finish()
    assert isinstance(error, McpError) and "no authorization within" in str(error)


def test_a_configured_client_id_is_used_instead_of_registering(servers: OAuthServers) -> None:
    servers.clients["given-id"] = []
    flow = Flow(servers.url, client_id="given-id", scopes=("read", "write"))
    link = flow.link()
    servers.clients["given-id"].append(dict(p.split("=", 1) for p in link.split("?", 1)[1].split("&"))
                                       ["redirect_uri"].replace("%3A", ":").replace("%2F", "/"))
    httpx.get(link, follow_redirects=True, timeout=WAIT_S)
    assert flow.finish() is None
    assert "scope=read+write" in link and list(servers.clients) == ["given-id"]


def test_the_challenge_is_parsed() -> None:
    params = challenge_params('Bearer error="invalid_token", resource_metadata="https://a.example/x", scope=read')
    assert params == {"error": "invalid_token", "resource_metadata": "https://a.example/x", "scope": "read"}


def test_the_credential_file_keeps_provider_keys_beside_the_tokens(servers: OAuthServers,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ketch.security.credentials import delete_key, get_stored_key, store_key

    monkeypatch.setenv("KETCH_KEYRING", "0")
    store_key("anthropic", "sk-ant-test-0123456789abcdef")
    sign_in(servers)
    assert get_stored_key("anthropic") == "sk-ant-test-0123456789abcdef"
    delete_key("anthropic")
    assert oauth.stored(servers.url) is not None  # removing a key keeps the tokens
    assert oauth.forget(servers.url)
    assert not credentials_path().exists()

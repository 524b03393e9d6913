"""OAuth for remote MCP servers (the MCP specification's Authorization): `authenticate` runs the whole
flow for one server's URL and keeps the tokens; `BearerAuth` gives its transport the access token,
refreshed before it expires and once more when the server answers 401.

Tokens live with ketch's credentials ($KETCH_HOME/credentials.json, section "mcpOAuth", 0600,
outside every sandbox's reach), keyed by the server's URL: never in an environment, argv, a
log line or a message. A refresh the authorization server refuses (revoked, expired) forgets the
tokens, so the server reads "needs authentication" and the person runs `ketch mcp auth NAME`.

    oauth_discovery.py  which authorization server, and its checked endpoints
    oauth_flow.py       client registration, the browser step with PKCE, the token endpoint
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ketch.errors import CredentialError, McpError

if TYPE_CHECKING:
    import httpx

SECTION = "mcpOAuth"
REFRESH_MARGIN_S = 60.0  # refresh a token this close to its expiry (or half its lifetime) rather than send it
HTTP_TIMEOUT_S = 30.0
_store_lock = threading.Lock()  # one read-modify-write of the credential file at a time


def stored(url: str) -> dict[str, Any] | None:
    """The tokens kept for the server at `url`, or None."""
    from ketch.security.credentials import read_section

    try:
        record = read_section(SECTION).get(url)
    except CredentialError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("access_token"), str) else None


def _update(url: str, record: dict[str, Any] | None) -> None:
    from ketch.security.credentials import read_section, write_section

    with _store_lock:
        section = read_section(SECTION)
        if record is None:
            section.pop(url, None)
        else:
            section[url] = record
        write_section(SECTION, section)


def forget(url: str) -> bool:
    """Drop the tokens of the server at `url`; True when there were some."""
    if stored(url) is None:
        return False
    _update(url, None)
    return True


def _client() -> httpx.Client:
    import httpx

    from ketch import __version__

    return httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False, headers={"user-agent": f"ketch/{__version__}"})


def _record(data: dict[str, Any], token_endpoint: str, client: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
    """What is kept of a token answer; a refresh answer without a new refresh token keeps the old one."""
    record: dict[str, Any] = {"token_endpoint": token_endpoint, "client_id": client.client_id,
                              "access_token": data["access_token"]}
    if client.client_secret:
        record["client_secret"] = client.client_secret
    refresh = data.get("refresh_token") or (previous or {}).get("refresh_token")
    if isinstance(refresh, str) and refresh:
        record["refresh_token"] = refresh
    expires_in = data.get("expires_in")
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        record["expires_at"] = time.time() + float(expires_in)
        record["lifetime"] = float(expires_in)
    for key in ("resource", "scope"):
        if (previous or {}).get(key) is not None:
            record[key] = previous[key]  # type: ignore[index]
    return record


def authenticate(url: str, *, transport: str = "http", client_id: str = "", scopes: tuple[str, ...] = (),
                 say: Callable[[str], None], browser: bool = True, timeout_s: float | None = None) -> None:
    """The whole flow for the MCP server at `url`; McpError with what to fix when it cannot finish."""
    from ketch.ext.mcp.oauth_discovery import authorization_server, check_endpoint
    from ketch.ext.mcp.oauth_flow import (
        FLOW_TIMEOUT_S,
        CallbackListener,
        Client,
        authorization_code,
        register,
        token_request,
    )

    with _client() as http:
        challenge = _challenge(http, url, transport)
        server = authorization_server(http, url, challenge)
        chosen = list(scopes or server.resource_scopes)
        listener = CallbackListener(FLOW_TIMEOUT_S if timeout_s is None else timeout_s)
        try:
            if client_id:
                client = Client(client_id)
            elif server.registration_endpoint is not None:
                client = register(http, server, listener.redirect_uri, chosen)
            else:
                raise McpError(f"the authorization server {server.issuer} does not register clients: add "
                               '"oauth": {"clientId": "..."} to the server\'s entry (a client id it gave you)')
            code, verifier = authorization_code(server, client, listener, url, chosen, say, browser)
        finally:
            listener.close()
        data = token_request(http, check_endpoint(server.token_endpoint, "token endpoint"), client, {
            "grant_type": "authorization_code", "code": code, "redirect_uri": listener.redirect_uri,
            "code_verifier": verifier, "resource": url})
    record = _record(data, server.token_endpoint, client, {"resource": url, "scope": " ".join(chosen) or None})
    _update(url, record)


def _challenge(http: httpx.Client, url: str, transport: str) -> str | None:
    """The server's WWW-Authenticate, from an unauthenticated first request (None: it gave none)."""
    import httpx

    from ketch.ext.mcp.http_common import check_url

    check_url(url, "MCP server")
    probe = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "ketch"}}}
    try:
        if transport == "sse":
            request = http.build_request("GET", url, headers={"accept": "text/event-stream"})
        else:
            request = http.build_request("POST", url, json=probe,
                                         headers={"accept": "application/json, text/event-stream"})
        response = http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise McpError(f"cannot reach the MCP server ({type(exc).__name__})") from None
    response.close()
    return response.headers.get("www-authenticate") if response.status_code in (401, 403) else None


class BearerAuth:
    """The `Authorization` header of one server's transport (http_common.Auth)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()

    def header(self) -> str | None:
        """`Bearer <token>`, refreshed first when it is about to expire; None when none is kept."""
        with self._lock:
            record = stored(self.url)
            if record is None:
                return None
            expires_at = record.get("expires_at")
            lifetime = record.get("lifetime")
            margin = min(REFRESH_MARGIN_S, lifetime / 2 if isinstance(lifetime, (int, float)) else REFRESH_MARGIN_S)
            if isinstance(expires_at, (int, float)) and expires_at - margin <= time.time():
                record = self._refresh(record)
                if record is None:
                    return None
            return f"Bearer {record['access_token']}"

    def refresh(self, sent: str | None) -> bool:
        """After a 401 to `sent`: True when a new token is there to retry with (refreshed once, here or
        by another request meanwhile)."""
        with self._lock:
            record = stored(self.url)
            if record is None:
                return False
            if sent is not None and sent != f"Bearer {record['access_token']}":
                return True
            return self._refresh(record) is not None

    def _refresh(self, record: dict[str, Any]) -> dict[str, Any] | None:
        from ketch.ext.mcp.oauth_discovery import check_endpoint
        from ketch.ext.mcp.oauth_flow import Client, OAuthRefused, token_request

        refresh_token = record.get("refresh_token")
        if not isinstance(refresh_token, str):
            _update(self.url, None)  # an expired token with no way to renew it
            return None
        client = Client(str(record.get("client_id", "")), record.get("client_secret"))
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "resource": self.url}
        try:
            with _client() as http:
                data = token_request(http, check_endpoint(str(record.get("token_endpoint", "")), "token endpoint"),
                                     client, form)
        except OAuthRefused:
            _update(self.url, None)  # revoked or expired: the person authorizes again
            return None
        except McpError:
            return None  # the authorization server is unreachable: keep the tokens for later
        fresh = _record(data, str(record["token_endpoint"]), client, record)
        _update(self.url, fresh)
        return fresh

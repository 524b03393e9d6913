"""The person's part of MCP authorization: a client registered (RFC 7591) or configured, the browser
sent to the authorization server with PKCE S256 (RFC 7636) and `resource` (RFC 8707), the code
received on a one-shot listener on 127.0.0.1, and exchanged for tokens.

The listener accepts exactly one answer on its own path: a `state` other than the one sent
ends the flow (someone else's redirect, or a forged one), as does the 5-minute timeout. The
code, the verifier and the tokens are never printed: only the authorization link is, and it
holds the challenge, not the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from ketch.errors import McpError
from ketch.ext.mcp.http_common import origin
from ketch.ext.mcp.oauth_discovery import AuthServer

if TYPE_CHECKING:
    import httpx

FLOW_TIMEOUT_S = 300.0
CALLBACK_PATH = "/callback"
_PAGE = (b"<!doctype html><meta charset=utf-8><title>ketch</title>"
         b"<p>%s You can close this tab and go back to ketch.</p>")


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None = None


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): 43+ unreserved characters and their hash, base64url without padding."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def register(http: httpx.Client, server: AuthServer, redirect_uri: str, scopes: list[str]) -> Client:
    """A public client for ketch at the server's registration endpoint (RFC 7591)."""
    assert server.registration_endpoint is not None
    body: dict[str, Any] = {"client_name": "ketch", "redirect_uris": [redirect_uri],
                            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                            "token_endpoint_auth_method": "none"}
    if scopes:
        body["scope"] = " ".join(scopes)
    data = _post(http, server.registration_endpoint, "client registration", json=body, ok=(200, 201))
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise McpError(f"the authorization server {origin(server.issuer)} registered no client_id")
    secret = data.get("client_secret")
    return Client(client_id, secret if isinstance(secret, str) and secret else None)


def token_request(http: httpx.Client, token_endpoint: str, client: Client, form: dict[str, str]) -> dict[str, Any]:
    """POST to the token endpoint; the answer, checked to hold an access token. McpError names the
    OAuth error code only (its description could quote what was sent)."""
    form = {**form, "client_id": client.client_id}
    if client.client_secret:
        form["client_secret"] = client.client_secret
    data = _post(http, token_endpoint, "token endpoint", data=form, ok=(200,))
    if not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise McpError(f"the token endpoint at {origin(token_endpoint)} sent no access token")
    if str(data.get("token_type", "bearer")).lower() != "bearer":
        raise McpError(f"the token endpoint at {origin(token_endpoint)} sent a {str(data['token_type'])[:20]!r} "
                       "token; ketch uses Bearer tokens")
    return data


def _post(http: httpx.Client, url: str, what: str, ok: tuple[int, ...], **body: Any) -> dict[str, Any]:
    import httpx

    try:
        response = http.post(url, headers={"accept": "application/json"}, **body)
    except httpx.HTTPError as exc:
        raise McpError(f"cannot reach the {what} at {origin(url)} ({type(exc).__name__})") from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code not in ok:
        code = data.get("error") if isinstance(data, dict) else None
        raise OAuthRefused(f"the {what} at {origin(url)} refused (HTTP {response.status_code}"
                           + (f", {str(code)[:40]}" if isinstance(code, str) else "") + ")",
                           code if isinstance(code, str) else "")
    if not isinstance(data, dict):
        raise McpError(f"the {what} at {origin(url)} answered with something that is not a JSON object")
    return data


class OAuthRefused(McpError):
    """The authorization server said no; `code` is its OAuth error (e.g. invalid_grant)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def authorization_code(server: AuthServer, client: Client, listener: CallbackListener, resource: str,
                       scopes: list[str], say: Callable[[str], None], browser: bool) -> tuple[str, str]:
    """Send the person to the authorization server and wait for the code: (code, verifier)."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    query = {"response_type": "code", "client_id": client.client_id, "redirect_uri": listener.redirect_uri,
             "state": state, "code_challenge": challenge, "code_challenge_method": "S256", "resource": resource}
    if scopes:
        query["scope"] = " ".join(scopes)
    separator = "&" if urlsplit(server.authorization_endpoint).query else "?"
    link = server.authorization_endpoint + separator + urlencode(query)
    say(f"open this link to authorize ketch with {origin(server.issuer)}:")
    say(link)
    if browser and _has_display():
        import webbrowser

        try:
            webbrowser.open(link)
        except Exception:  # noqa: BLE001, S110 - the printed link is enough
            pass
    params = listener.wait()
    if params.get("state") != state:
        raise McpError("the authorization answer carried the wrong state: refused (start again with the link "
                       "ketch prints)")
    if "error" in params:
        raise McpError(f"the authorization server refused: {params['error'][:60]}")
    code = params.get("code")
    if not code:
        raise McpError("the authorization answer carried no code")
    return code, verifier


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class CallbackListener:
    """A one-shot HTTP listener on 127.0.0.1 (a random port) for the authorization redirect."""

    def __init__(self, timeout_s: float = FLOW_TIMEOUT_S) -> None:
        from http.server import BaseHTTPRequestHandler, HTTPServer

        self.timeout_s = timeout_s
        self.params: dict[str, str] | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH or listener.params is not None:
                    self.send_error(404)
                    return
                listener.params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                said = b"ketch was not authorized." if "error" in listener.params else b"ketch is authorized."
                body = _PAGE % said
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # the query holds the code: never logged
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 0.5  # handle_request returns this often, so Ctrl-C and the deadline are seen
        self.redirect_uri = f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def wait(self) -> dict[str, str]:
        deadline = time.monotonic() + self.timeout_s
        while self.params is None:
            if time.monotonic() >= deadline:
                raise McpError(f"no authorization within {self.timeout_s / 60:g} minutes: run the command again "
                               "when you are ready")
            self._server.handle_request()
        return self.params

    def close(self) -> None:
        self._server.server_close()

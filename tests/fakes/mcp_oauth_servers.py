"""An OAuth authorization server and an MCP server it protects, each a plain http.server on 127.0.0.1.

    with OAuthServers() as s:   # s.auth (authorization server), s.url (the MCP endpoint, Streamable HTTP, JSON)

The authorization server registers clients (RFC 7591), answers /authorize by redirecting at once
to the registered redirect URI (the person's "yes"), and at /token checks everything a real one
does: the code once, its client, redirect URI and `resource`, and PKCE (S256 of the verifier).
Knobs: `issuer` (what its metadata claims), `token_endpoint` (what it names), `lifetime` (expires_in),
`state` (sent back instead of the client's), `expire_access()`, `revoke_refresh()`.
The MCP server accepts a live access token only, else answers 401 naming its resource metadata.
Tool `whoami`: the client id the token was issued to. Everything both saw is kept for the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    from typing_extensions import Self


class _Handler(BaseHTTPRequestHandler):
    owner: OAuthServers
    role: str

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_GET(self) -> None:
        self.owner.requests.append((self.role, "GET", self.path))
        getattr(self.owner, f"{self.role}_get")(self)

    def do_POST(self) -> None:
        self.owner.requests.append((self.role, "POST", self.path))
        getattr(self.owner, f"{self.role}_post")(self, self._body())

    def do_DELETE(self) -> None:
        self._send(405)


class OAuthServers:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []
        self.clients: dict[str, list[str]] = {}  # client_id -> redirect URIs
        self.codes: dict[str, dict[str, str]] = {}
        self.access: dict[str, str] = {}  # live access token -> client id
        self.refresh: dict[str, str] = {}  # live refresh token -> client id
        self.issued: list[str] = []  # every token ever issued, to look for in output
        self.refreshes = 0
        self.bearers: list[str] = []  # Authorization headers the MCP server received
        self.lifetime = 3600
        self.issuer: str | None = None
        self.token_endpoint: str | None = None
        self.state: str | None = None
        self.resource_metadata: dict[str, Any] | None = None
        self._servers = [self._start("auth"), self._start("mcp")]
        self.auth = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.base = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        self.url = self.base + "/mcp"

    def _start(self, role: str) -> ThreadingHTTPServer:
        handler = type(f"{role}Handler", (_Handler,), {"owner": self, "role": role})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def expire_access(self) -> None:
        self.access.clear()

    def revoke_refresh(self) -> None:
        self.refresh.clear()

    def _token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.issued.append(token)
        return token

    # -- the authorization server --------------------------------------------------------------

    def auth_get(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        if parts.path == "/.well-known/oauth-authorization-server":
            h._send(200, {"issuer": self.issuer or self.auth, "authorization_endpoint": self.auth + "/authorize",
                          "token_endpoint": self.token_endpoint or self.auth + "/token",
                          "registration_endpoint": self.auth + "/register", "response_types_supported": ["code"],
                          "code_challenge_methods_supported": ["S256"]})
        elif parts.path == "/authorize":
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = (q.get("response_type") == "code" and q.get("code_challenge_method") == "S256"
                  and q.get("redirect_uri") in self.clients.get(q.get("client_id", ""), []) and q.get("resource"))
            if not ok:
                h._send(400, {"error": "invalid_request"})
                return
            code = secrets.token_urlsafe(16)
            self.codes[code] = q
            answer = urlencode({"code": code, "state": self.state or q["state"]})
            h._send(302, headers={"location": f"{q['redirect_uri']}?{answer}"})
        else:
            h._send(404, {"error": "not_found"})

    def auth_post(self, h: _Handler, body: bytes) -> None:
        path = urlsplit(h.path).path
        if path == "/register":
            data = json.loads(body)
            assert data["token_endpoint_auth_method"] == "none" and data["client_name"] == "ketch"
            client_id = f"client-{len(self.clients) + 1}"
            self.clients[client_id] = list(data["redirect_uris"])
            h._send(201, {"client_id": client_id, **data})
            return
        if path != "/token":
            h._send(404, {"error": "not_found"})
            return
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client = form.get("client_id", "")
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (grant is None or grant["client_id"] != client or grant["redirect_uri"] != form.get("redirect_uri")
                    or grant["code_challenge"] != challenge or grant["resource"] != form.get("resource")):
                h._send(400, {"error": "invalid_grant"})
                return
        elif form.get("grant_type") == "refresh_token":
            if self.refresh.pop(form.get("refresh_token", ""), None) != client or form.get("resource") != self.url:
                h._send(400, {"error": "invalid_grant"})
                return
            self.refreshes += 1
        else:
            h._send(400, {"error": "unsupported_grant_type"})
            return
        access, refresh = self._token(), self._token()
        self.access[access], self.refresh[refresh] = client, client
        h._send(200, {"access_token": access, "token_type": "Bearer", "expires_in": self.lifetime,
                      "refresh_token": refresh})

    # -- the protected MCP server --------------------------------------------------------------

    def mcp_get(self, h: _Handler) -> None:
        if urlsplit(h.path).path == "/.well-known/oauth-protected-resource/mcp":
            h._send(200, self.resource_metadata or {"resource": self.url, "authorization_servers": [self.auth]})
        else:
            h._send(405)

    def mcp_post(self, h: _Handler, body: bytes) -> None:
        bearer = h.headers.get("authorization", "")
        self.bearers.append(bearer)
        client = self.access.get(bearer.removeprefix("Bearer "))
        if client is None:
            challenge = f'Bearer resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
            h._send(401, {"error": "invalid_token"}, {"www-authenticate": challenge})
            return
        message = json.loads(body)
        if "id" not in message:
            h._send(202)
            return
        method = message["method"]
        if method == "initialize":
            result: dict[str, Any] = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                      "serverInfo": {"name": "protected", "version": "0"}}
        elif method == "tools/list":
            result = {"tools": [{"name": "whoami", "description": "The client the token was issued to.",
                                 "inputSchema": {"type": "object", "properties": {}}}]}
        else:
            result = {"content": [{"type": "text", "text": f"you are {client}"}]}
        h._send(200, {"jsonrpc": "2.0", "id": message["id"], "result": result})

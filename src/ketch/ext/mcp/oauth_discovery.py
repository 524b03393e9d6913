"""Where a remote MCP server's authorization happens: its protected-resource metadata (RFC 9728), then
its authorization server's metadata (RFC 8414, or OpenID Connect discovery).

Every URL read here came from a server, so each is checked before ketch sends anything to it:
https only (plain http only on loopback, where nothing crosses a network), and an authorization
server's metadata must name the issuer it was fetched for, or a server could point ketch at
another's endpoints (RFC 8414 §3.3). Nothing here holds a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ketch.errors import McpError
from ketch.ext.mcp.http_common import origin

if TYPE_CHECKING:
    import httpx

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_METADATA_BYTES = 256 * 1024


@dataclass(frozen=True)
class AuthServer:
    """An authorization server's endpoints, as its checked metadata names them."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    scopes_supported: tuple[str, ...] = ()
    resource_scopes: tuple[str, ...] = ()  # what the 401's challenge, else the resource's metadata, asked for


def check_endpoint(url: str, what: str) -> str:
    """`url`, when ketch may send a token or a code there: https, or http on loopback."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host in LOOPBACK:
        return url
    raise McpError(f"refused the {what} {origin(url) if host else url[:80]!r}: authorization endpoints must use "
                   "https (plain http only on 127.0.0.1, localhost or ::1)")


def challenge_params(www_authenticate: str | None) -> dict[str, str]:
    """The parameters of a Bearer challenge (`resource_metadata`, `scope`, `error`), lower-cased names."""
    if not www_authenticate:
        return {}
    found = re.findall(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', www_authenticate)
    return {name.lower(): quoted.replace('\\"', '"') if quoted else bare for name, quoted, bare in found}


def fetch_json(http: httpx.Client, url: str, what: str) -> dict[str, Any] | None:
    """The JSON object at `url`; None when it is not there (4xx); McpError when it is broken."""
    import json

    import httpx

    check_endpoint(url, what)
    try:
        response = http.get(url, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        raise McpError(f"cannot read the {what} at {origin(url)} ({type(exc).__name__})") from None
    if 400 <= response.status_code < 500:
        return None
    if response.status_code != 200 or len(response.content) > MAX_METADATA_BYTES:
        raise McpError(f"the {what} at {origin(url)} answered HTTP {response.status_code}")
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise McpError(f"the {what} at {origin(url)} is not a JSON object")
    return data


def _well_known(url: str, name: str) -> list[str]:
    """RFC 8414 §3.1 / RFC 9728 §3.1: the well-known name between the origin and the path; then at the root."""
    path = urlsplit(url).path.rstrip("/")
    base = origin(url)
    return [f"{base}/.well-known/{name}{path}", f"{base}/.well-known/{name}"] if path else [f"{base}/.well-known/{name}"]


def resource_metadata(http: httpx.Client, server_url: str, www_authenticate: str | None) -> dict[str, Any] | None:
    """The server's protected-resource metadata: where the 401 said, else at its well-known places."""
    named = challenge_params(www_authenticate).get("resource_metadata")
    candidates = [named] if named else _well_known(server_url, "oauth-protected-resource")
    for url in candidates:
        data = fetch_json(http, url, "protected-resource metadata")
        if data is None:
            continue
        resource = data.get("resource")
        if resource is not None and not _covers(str(resource), server_url):
            raise McpError(f"the protected-resource metadata at {origin(url)} is for another resource "
                           f"({origin(str(resource))}): refused")
        return data
    return None


def _covers(resource: str, server_url: str) -> bool:
    """The metadata's `resource` is the server's URL or a parent of it, on the same origin."""
    if origin(resource) != origin(server_url):
        return False
    want = urlsplit(resource).path.rstrip("/")
    have = urlsplit(server_url).path.rstrip("/")
    return have == want or have.startswith(want + "/")


def authorization_server(http: httpx.Client, server_url: str, www_authenticate: str | None) -> AuthServer:
    """The authorization server of the MCP server at `server_url`, its metadata read and checked."""
    prm = resource_metadata(http, server_url, www_authenticate)
    if prm is None:  # a server from before RFC 9728 (MCP 2025-03-26): its own origin authorizes
        issuers = [origin(server_url)]
    else:
        listed = prm.get("authorization_servers")
        if not isinstance(listed, list) or not listed or not all(isinstance(i, str) for i in listed):
            raise McpError(f"the protected-resource metadata of {origin(server_url)} names no authorization server")
        issuers = listed
    issuer = check_endpoint(issuers[0], "authorization server")
    candidates = _well_known(issuer, "oauth-authorization-server") + _well_known(issuer, "openid-configuration")
    if urlsplit(issuer).path.strip("/"):
        candidates.append(issuer.rstrip("/") + "/.well-known/openid-configuration")  # OIDC's own rule
    asked = challenge_params(www_authenticate).get("scope", "").split()
    listed_scopes = (prm or {}).get("scopes_supported")
    if not asked and isinstance(listed_scopes, list):
        asked = [s for s in listed_scopes if isinstance(s, str)]
    for url in dict.fromkeys(candidates):
        data = fetch_json(http, url, "authorization server metadata")
        if data is not None:
            return replace(_checked(data, issuer), resource_scopes=tuple(asked))
    raise McpError(f"the authorization server {origin(issuer)} publishes no metadata "
                   "(/.well-known/oauth-authorization-server or /.well-known/openid-configuration)")


def _checked(data: dict[str, Any], issuer: str) -> AuthServer:
    named = data.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        raise McpError(f"the authorization server metadata fetched for {origin(issuer)} names another issuer "
                       f"({str(named)[:80]!r}): refused")
    methods = data.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        raise McpError(f"the authorization server {origin(issuer)} does not offer PKCE with S256: ketch cannot "
                       "authorize safely with it")
    endpoints: dict[str, str | None] = {}
    for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
        value = data.get(key)
        if value is None and key == "registration_endpoint":
            endpoints[key] = None
            continue
        if not isinstance(value, str):
            raise McpError(f"the authorization server {origin(issuer)} names no {key.replace('_', ' ')}")
        endpoints[key] = check_endpoint(value, key.replace("_", " "))
    scopes = data.get("scopes_supported")
    return AuthServer(issuer=named, authorization_endpoint=str(endpoints["authorization_endpoint"]),
                      token_endpoint=str(endpoints["token_endpoint"]),
                      registration_endpoint=endpoints["registration_endpoint"],
                      scopes_supported=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list)
                      else ())

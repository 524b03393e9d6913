"""The network allow-list: exact hosts only, through ketch's proxy; nothing else gets out."""

from __future__ import annotations

import http.server
import ipaddress
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from sandbox_kit import make, sh

from ketch.security.sandbox import proxy as sandbox_proxy
from ketch.security.sandbox.proxy import Policy, Refusal, parse_request


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    table = {"pypi.org": "151.101.0.223", "files.pythonhosted.org": "151.101.1.63", "rebind.example": "127.0.0.1",
             "metadata.example": "169.254.169.254"}

    def resolve(host: str, port: int):  # type: ignore[no-untyped-def]
        if host not in table:
            raise Refusal("502 Bad Gateway", f"cannot resolve {host}")
        return [ipaddress.ip_address(table[host])]

    monkeypatch.setattr(sandbox_proxy, "_resolve", resolve)
    return table


def request(line: str, *headers: str) -> bytes:
    return "\r\n".join([line, *headers]).encode()


@pytest.mark.parametrize("target", ["pypi.org:443", "PyPI.ORG:443", "pypi.org.:443"])
def test_exact_host_is_allowed(target: str, fake_dns: dict[str, str]) -> None:
    parsed = parse_request(request(f"CONNECT {target} HTTP/1.1", f"Host: {target}"), Policy(["pypi.org"]))
    assert parsed.connect and parsed.target.host == "pypi.org" and parsed.target.addresses == ("151.101.0.223",)


@pytest.mark.parametrize("target", [
    "pypi.org.evil.com:443", "evil-pypi.org:443", "sub.pypi.org:443", "pypi.org:8443", "pypi.org..:443",
    "pypi.org%00.evil.com:443", "pypi.org@evil.com:443", "files.pythonhosted.org:443",
])
def test_anything_else_is_refused(target: str, fake_dns: dict[str, str]) -> None:
    with pytest.raises(Refusal) as info:
        parse_request(request(f"CONNECT {target} HTTP/1.1"), Policy(["pypi.org"]))
    assert info.value.status.startswith(("400", "403"))


@pytest.mark.parametrize("raw", [
    b"CONNECT pypi.org:443\x00 HTTP/1.1",
    b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org\rX: y",
    b"GET http://pypi.org/ HTTP/1.1\nHost: evil.com",
    b"GET http://pypi.org/ HTTP/1.1\r\nHost: evil.com",
    b"GET http://pypi.org/ HTTP/1.1\r\nHost: pypi.org\r\nHost: evil.com",
    b"GET  http://pypi.org/ HTTP/1.1",
    b"GET /relative HTTP/1.1\r\nHost: pypi.org",
    b"GET http://pypi.org\xff/ HTTP/1.1",
])
def test_smuggling_is_refused(raw: bytes, fake_dns: dict[str, str]) -> None:
    with pytest.raises(Refusal):
        parse_request(raw, Policy(["pypi.org"]))


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "127.000.000.001", "[::ffff:127.0.0.1]"])
def test_ip_literal_tricks_are_refused(host: str) -> None:
    with pytest.raises(Refusal):
        parse_request(request(f"CONNECT {host}:8080 HTTP/1.1"), Policy(["127.0.0.1:8080"]))
    assert parse_request(request("CONNECT 127.0.0.1:8080 HTTP/1.1"), Policy(["127.0.0.1:8080"])).connect


@pytest.mark.parametrize("host", ["rebind.example", "metadata.example"])
def test_listed_names_resolving_to_local_addresses_are_refused(host: str, fake_dns: dict[str, str]) -> None:
    with pytest.raises(Refusal, match="local address"):
        parse_request(request(f"CONNECT {host}:443 HTTP/1.1"), Policy([host]))


def test_plain_http_is_rewritten_to_one_request(fake_dns: dict[str, str]) -> None:
    parsed = parse_request(request("GET http://pypi.org/simple/ HTTP/1.1", "Host: pypi.org",
                                   "Proxy-Connection: keep-alive", "Accept: */*"), Policy(["pypi.org"]))
    assert parsed.head == b"GET /simple/ HTTP/1.1\r\nHost: pypi.org\r\nAccept: */*\r\nConnection: close\r\n\r\n"


def test_bad_allow_list_entries_are_rejected() -> None:
    for entry in ("*.pypi.org", "pypi.org/simple", "http://pypi.org", "pypi.org:0"):
        with pytest.raises(ValueError):
            Policy([entry])


class _Sink(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = f"hello {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_only_listed_hosts_are_reachable_from_the_sandbox(ws: Path, home: Path) -> None:
    _Sink.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sb = make(ws, home, allowed_hosts=(f"127.0.0.1:{port}",))
        py = f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{port}/via-proxy').read().decode())"
        command = (
            f"{sys.executable} -c \"{py}\"; "
            f"curl -sS http://localhost:{port}/denied-name; "
            f"curl -sS --noproxy '*' --max-time 3 http://127.0.0.1:{port}/direct || echo direct-failed; "
            "curl -sS -p --max-time 3 https://example.com/ || echo tunnel-refused"
        )
        result = sh(sb, command, timeout=30)
        assert "hello /via-proxy" in result.output
        assert "not in the sandbox's network allow-list" in result.output
        assert "direct-failed" in result.output and "tunnel-refused" in result.output
        assert _Sink.hits == ["/via-proxy"]
        sb.close()
    finally:
        server.shutdown()
        server.server_close()

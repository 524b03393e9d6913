"""npm:/pypi: specs against registries served on 127.0.0.1 in their real wire formats (npm's
packument, PEP 691's JSON simple index), with hashes checked."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_archives import tar_bytes, zip_bytes

from ketch.audit.fetch import fetch, npm_registry
from ketch.errors import AuditError


class Registry:
    """One server that answers both npm and PyPI paths from a dict of path → (content type, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.seen: list[str] = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.seen.append(self.path)
                kind, body = registry.routes.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in registry.routes else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, path: str, body: bytes, kind: str = "application/octet-stream") -> None:
        self.routes[path] = (kind, body)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    reg = Registry()
    monkeypatch.setenv("npm_config_registry", reg.url + "/")
    monkeypatch.setenv("PIP_INDEX_URL", reg.url + "/simple/")
    yield reg
    reg.server.shutdown()


def npm_package(reg: Registry, name: str, versions: dict[str, bytes], *, bad_integrity: bool = False) -> None:
    doc = {"name": name, "dist-tags": {"latest": list(versions)[-1]}, "versions": {}}
    for version, tarball in versions.items():
        path = f"/{name}/-/{name.split('/')[-1]}-{version}.tgz"
        reg.add(path, tarball)
        digest = hashlib.sha512(b"other" if bad_integrity else tarball).digest()
        doc["versions"][version] = {"version": version, "dist": {  # type: ignore[index]
            "tarball": reg.url + path, "integrity": "sha512-" + base64.b64encode(digest).decode()}}
    reg.add("/" + name.replace("/", "%2f"), json.dumps(doc).encode(), "application/json")


def test_npm_spec_downloads_the_version_and_checks_integrity(registry: Registry, tmp_path: Path) -> None:
    tgz = tar_bytes({"package/package.json": b'{"name": "@acme/cli", "version": "2.1.88"}'})
    npm_package(registry, "@acme/cli", {"2.1.87": b"old", "2.1.88": tgz})
    [got] = fetch("npm:@acme/cli@2.1.88", tmp_path)
    assert got.path.read_bytes() == tgz and got.path.parent == tmp_path
    (tmp_path / "latest").mkdir()
    [latest] = fetch("npm:@acme/cli", tmp_path / "latest")
    assert latest.path.read_bytes() == tgz


def test_npm_integrity_mismatch_is_refused(registry: Registry, tmp_path: Path) -> None:
    npm_package(registry, "mitt", {"3.0.1": b"tampered"}, bad_integrity=True)
    with pytest.raises(AuditError, match="does not match the registry's sha512"):
        fetch("npm:mitt@3.0.1", tmp_path)


def test_unknown_version_and_package_are_one_line(registry: Registry, tmp_path: Path) -> None:
    npm_package(registry, "mitt", {"3.0.1": b"x"})
    with pytest.raises(AuditError, match="no such version .*latest is 3.0.1"):
        fetch("npm:mitt@9.9.9", tmp_path)
    with pytest.raises(AuditError, match="not found"):
        fetch("npm:nothere@1.0.0", tmp_path)
    with pytest.raises(AuditError, match="not an npm spec"):
        fetch("npm:../../etc@1", tmp_path)


def test_pypi_spec_takes_the_sdist_and_the_pure_wheel(registry: Registry, tmp_path: Path) -> None:
    sdist = tar_bytes({"demo_pkg-3.0/PKG-INFO": b"Name: demo-pkg\nVersion: 3.0\n\n"})
    wheel = zip_bytes({"demo_pkg/__init__.py": b""})
    files = []
    for filename, body in (("demo_pkg-3.0.tar.gz", sdist), ("demo_pkg-3.0-py3-none-any.whl", wheel),
                           ("demo_pkg-3.0-cp311-cp311-manylinux_2_17_x86_64.whl", b"platform"),
                           ("demo_pkg-2.0.tar.gz", b"old")):
        registry.add(f"/files/{filename}", body)
        files.append({"filename": filename, "url": f"/files/{filename}",
                      "hashes": {"sha256": hashlib.sha256(body).hexdigest()}})
    registry.add("/simple/demo-pkg/", json.dumps({"meta": {"api-version": "1.1"}, "name": "demo-pkg",
                                                  "versions": ["2.0", "3.0"], "files": files}).encode(),
                 "application/vnd.pypi.simple.v1+json")
    got = fetch("pypi:Demo_Pkg==3.0", tmp_path)
    assert [f.path.name for f in got] == ["demo_pkg-3.0.tar.gz", "demo_pkg-3.0-py3-none-any.whl"]
    assert got[0].path.read_bytes() == sdist and got[1].path.read_bytes() == wheel
    (tmp_path / "newest").mkdir()
    newest = fetch("pypi:demo-pkg", tmp_path / "newest")
    assert {f.path.name for f in newest} == {"demo_pkg-3.0.tar.gz", "demo_pkg-3.0-py3-none-any.whl"}


def test_npm_registry_is_read_from_npmrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("npm_config_registry", raising=False)
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    (tmp_path / ".npmrc").write_text("; comment\nregistry = https://npm.example.org/\n")
    assert npm_registry(tmp_path) == "https://npm.example.org/"

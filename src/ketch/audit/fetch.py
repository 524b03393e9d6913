"""`npm:NAME@VERSION` and `pypi:NAME==VERSION`: the published artifact, fetched from the configured
registry only (npm's `registry` setting, pip's index URL), checked against the registry's own
hash, into a private temp folder. The only network `ketch audit` ever makes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ketch.errors import AuditError

if TYPE_CHECKING:
    import httpx

_NPM_DEFAULT = "https://registry.npmjs.org/"
_PYPI_DEFAULT = "https://pypi.org/simple/"
_MAX_DOWNLOAD = 4 << 30
_PYPI_FILES = "files.pythonhosted.org"
_TIMEOUT = 60.0


@dataclass(frozen=True)
class Fetched:
    spec: str
    path: Path


def is_spec(text: str) -> bool:
    return text.startswith(("npm:", "pypi:"))


def fetch(spec: str, into: Path) -> list[Fetched]:
    """The artifact(s) a spec names: npm's tarball, or PyPI's sdist and one wheel (the pure one if any)."""
    if spec.startswith("npm:"):
        return [_fetch_npm(spec, spec[4:], into)]
    return _fetch_pypi(spec, spec[5:], into)


def npm_registry(cwd: Path | None = None) -> str:
    """npm's own order: the environment, then the project's .npmrc, then the user's."""
    for key in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if os.environ.get(key):
            return os.environ[key]
    for rc in ((cwd or Path.cwd()) / ".npmrc", Path.home() / ".npmrc"):
        try:
            text = rc.read_text(errors="replace")
        except OSError:
            continue
        match = re.search(r"^\s*registry\s*=\s*(\S+)", text, re.MULTILINE)
        if match:
            return match.group(1)
    return _NPM_DEFAULT


def pypi_index() -> str:
    return os.environ.get("PIP_INDEX_URL") or os.environ.get("UV_INDEX_URL") or _PYPI_DEFAULT


def _fetch_npm(spec: str, rest: str, into: Path) -> Fetched:
    match = re.fullmatch(r"(@[a-z0-9][\w.-]*/[\w.-]+|[a-z0-9][\w.-]*)(?:@([\w.+-]+))?", rest, re.IGNORECASE)
    if not match:
        raise AuditError(f"{spec!r} is not an npm spec: use npm:NAME@VERSION or npm:@SCOPE/NAME@VERSION")
    name, version = match.group(1), match.group(2) or "latest"
    registry = npm_registry().rstrip("/") + "/"
    hosts = _hosts(registry)
    doc = _get_json(registry + name.replace("/", "%2f"), spec, hosts)
    versions = doc.get("versions")
    tags = doc.get("dist-tags")
    versions = versions if isinstance(versions, dict) else {}
    tags = tags if isinstance(tags, dict) else {}
    chosen = versions.get(tags.get(version, version))
    if not isinstance(chosen, dict) or not isinstance(chosen.get("dist"), dict):
        raise AuditError(f"{spec}: no such version on {registry} (latest is {tags.get('latest', '?')})")
    dist = chosen["dist"]
    url = str(dist.get("tarball", ""))
    if not url.startswith(("https://", "http://")):
        raise AuditError(f"{spec}: the registry gave no tarball address")
    integrity = str(dist.get("integrity", ""))
    check: tuple[str, str] | None = None
    if integrity.startswith("sha512-"):
        check = ("sha512", base64.b64decode(integrity[7:]).hex())
    elif dist.get("shasum"):
        check = ("sha1", str(dist["shasum"]))
    filename = f"{name.replace('/', '-').lstrip('@')}-{chosen.get('version', version)}.tgz"
    return Fetched(spec, _download(url, into / filename, check, spec, hosts))


def _fetch_pypi(spec: str, rest: str, into: Path) -> list[Fetched]:
    match = re.fullmatch(r"([A-Za-z0-9][\w.-]*)(?:==([\w.+!-]+))?", rest)
    if not match:
        raise AuditError(f"{spec!r} is not a PyPI spec: use pypi:NAME==VERSION")
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    index = pypi_index().rstrip("/") + "/"
    hosts = _hosts(index)
    doc = _get_json(index + name + "/", spec, hosts, accept="application/vnd.pypi.simple.v1+json")
    files = [f for f in doc.get("files", []) if isinstance(f, dict) and not f.get("yanked")]
    version = match.group(2) or _latest(doc, files, name)
    mine = [f for f in files if _file_version(str(f.get("filename", "")), name) == version]
    if not mine:
        raise AuditError(f"{spec}: no files for version {version} on {index}")
    sdists = [f for f in mine if str(f["filename"]).endswith((".tar.gz", ".zip"))]
    wheels = sorted((f for f in mine if str(f["filename"]).endswith(".whl")),
                    key=lambda f: (not str(f["filename"]).endswith("-none-any.whl"), str(f["filename"])))
    fetched = []
    for entry in sdists[:1] + wheels[:1]:
        filename = Path(str(entry["filename"])).name
        digest = entry.get("hashes", {}).get("sha256") if isinstance(entry.get("hashes"), dict) else None
        url = str(entry.get("url", ""))
        if not url.startswith(("https://", "http://")):
            from urllib.parse import urljoin

            url = urljoin(index + name + "/", url)
        fetched.append(Fetched(f"{spec} ({filename})",
                               _download(url, into / filename, ("sha256", digest) if digest else None, spec, hosts)))
    return fetched


def _latest(doc: dict[str, Any], files: list[dict[str, Any]], name: str) -> str:
    versions = [str(v) for v in doc.get("versions", [])] or sorted(
        {v for f in files if (v := _file_version(str(f.get("filename", "")), name))})
    if not versions:
        raise AuditError(f"pypi:{name}: the index lists no versions")
    return max(versions, key=_version_key)


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+-]", version))


def _file_version(filename: str, name: str) -> str:
    stem = re.sub(r"\.(tar\.gz|zip|whl)$", "", filename)
    normal = re.sub(r"[-_.]+", "-", stem).lower()
    if not normal.startswith(name + "-"):
        return ""
    rest = stem[len(name) + 1:]
    return rest.split("-", 1)[0]


def _hosts(registry: str) -> frozenset[str]:
    """The hosts a spec may be fetched from: the configured registry's, and for PyPI itself the host
    its index names for every file."""
    host = (urlsplit(registry).hostname or "").lower()
    return frozenset({host, _PYPI_FILES} if host == "pypi.org" else {host})


def _client(hosts: frozenset[str], spec: str) -> httpx.Client:
    """A client that sends nothing off the registry's hosts, redirects included: the packument names
    the tarball's address, so a hostile or compromised registry could send the audit (and the
    person's network position) to any host, 169.254.169.254 or an intranet service included."""
    import httpx

    def only_registry(request: httpx.Request) -> None:
        if request.url.scheme not in ("https", "http") or (request.url.host or "").lower() not in hosts:
            raise AuditError(f"{spec}: the registry points at {request.url.scheme}://{request.url.host}, not at "
                             f"{', '.join(sorted(hosts))}: not fetched (ketch audit fetches only from the configured "
                             "registry; download the file yourself and audit it)")

    return httpx.Client(timeout=_TIMEOUT, follow_redirects=True, event_hooks={"request": [only_registry]})


def _get_json(url: str, spec: str, hosts: frozenset[str], accept: str = "application/json") -> dict[str, Any]:
    import httpx

    try:
        with _client(hosts, spec) as client:
            response = client.get(url, headers={"Accept": accept})
    except httpx.HTTPError as exc:
        raise AuditError(f"{spec}: cannot reach {url}: {exc}") from None
    if response.status_code == 404:
        raise AuditError(f"{spec}: not found on {url}")
    if response.status_code >= 400:
        raise AuditError(f"{spec}: {url} answered HTTP {response.status_code}")
    try:
        doc = response.json()
    except ValueError:
        raise AuditError(f"{spec}: {url} did not answer JSON") from None
    if not isinstance(doc, dict):
        raise AuditError(f"{spec}: {url} answered an unexpected document")
    return doc


def _download(url: str, dest: Path, check: tuple[str, str] | None, spec: str, hosts: frozenset[str]) -> Path:
    import httpx

    digest = hashlib.new(check[0]) if check else None
    written = 0
    try:
        with _client(hosts, spec) as client, client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise AuditError(f"{spec}: {url} answered HTTP {response.status_code}")
            with open(dest, "xb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    written += len(chunk)
                    if written > _MAX_DOWNLOAD:
                        raise AuditError(f"{spec}: larger than {_MAX_DOWNLOAD >> 30} GiB; download it and audit the file")
                    out.write(chunk)
                    if digest:
                        digest.update(chunk)
    except httpx.HTTPError as exc:
        raise AuditError(f"{spec}: download failed: {exc}") from None
    if check and digest and digest.hexdigest() != check[1].lower():
        raise AuditError(f"{spec}: the download does not match the registry's {check[0]}; not audited")
    return dest


def private_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="ketch-audit-")

"""What an artifact says of itself: its ecosystem, name, version, license and repository.

Read from the members every packer writes (npm's `package/package.json`, a wheel's
`*.dist-info/METADATA`, an sdist's `PKG-INFO`, docker's `manifest.json`) as they stream by, so
the checks can judge in proportion: the source of an MIT package with a public repository,
shipped in its maps, is a smaller leak than the source of an unlicensed one.
"""

from __future__ import annotations

import json
import re

from ketch.audit.model import ArtifactInfo

_SDIST_ROOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*-\d[^/]*/PKG-INFO$")
_WHEEL_METADATA = re.compile(r"^[^/]+\.dist-info/METADATA$")
_REPO_LABELS = ("source", "repository", "code", "source code", "github", "homepage")
_OPEN_LICENSE = re.compile(
    r"\b(MIT|BSD|Apache|ISC|MPL|LGPL|GPL|AGPL|EPL|Unlicense|CC0|0BSD|Zlib|Python|PSF|Artistic|BlueOak|WTFPL)\b", re.IGNORECASE)


def ecosystem_from_names(first: str, names: list[str] | None = None) -> str:
    """A first guess from the first member (streams) or all names (zips); metadata confirms it."""
    if names is not None and any(n.endswith(".dist-info/WHEEL") and n.count("/") == 1 for n in names):
        return "python-wheel"
    if first.startswith("package/"):
        return "npm"
    if first in ("manifest.json", "oci-layout", "repositories", "index.json") or first.startswith("blobs/sha256/"):
        return "docker"
    root = first.split("/", 1)[0]
    if re.match(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*-\d[\w.+!-]*$", root):
        return "python-sdist"
    return "archive"


def note(info: ArtifactInfo, path: str, data: bytes) -> None:
    """Fill `info` from a top-level metadata member, if `path` is one."""
    if path == "package/package.json":
        _from_package_json(info, data)
        info.ecosystem = "npm"
    elif _WHEEL_METADATA.match(path):
        _from_core_metadata(info, data)
        info.ecosystem = "python-wheel"
    elif _SDIST_ROOT.match(path):
        _from_core_metadata(info, data)
        info.ecosystem = "python-sdist"
    elif path in ("package.json",) and info.ecosystem == "folder":
        _from_package_json(info, data)
    elif path == "manifest.json" and info.ecosystem in ("archive", "docker") and b'"Layers"' in data[:65536]:
        info.ecosystem = "docker"


def is_open_license(license_text: str) -> bool:
    text = license_text.strip()
    if not text or text.upper().startswith(("UNLICENSED", "SEE LICENSE", "PROPRIETARY", "LICENSEREF")):
        return False
    return bool(_OPEN_LICENSE.search(text))


def _from_package_json(info: ArtifactInfo, data: bytes) -> None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(doc, dict):
        return
    info.name = str(doc.get("name") or info.name)[:200]
    info.version = str(doc.get("version") or "")[:100]
    lic = doc.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    info.license = str(lic or "")[:200]
    repo = doc.get("repository")
    if isinstance(repo, dict):
        repo = repo.get("url")
    info.repository = str(repo or "")[:300]


def _from_core_metadata(info: ArtifactInfo, data: bytes) -> None:
    """Core metadata is RFC 822-shaped; only its header block matters here."""
    header = data[:65536].decode("utf-8", "replace").split("\n\n", 1)[0]
    fields: list[tuple[str, str]] = []
    for line in header.splitlines():
        if ":" in line and not line.startswith((" ", "\t")):
            key, _, value = line.partition(":")
            fields.append((key.strip().lower(), value.strip()))
    licenses = [v for k, v in fields if k == "license-expression"] or [
        v.rsplit("::", 1)[-1].strip() for k, v in fields if k == "classifier" and v.startswith("License ::")
    ] or [v for k, v in fields if k == "license"]
    for key, value in fields:
        if key == "name":
            info.name = value[:200]
        elif key == "version":
            info.version = value[:100]
        elif key == "project-url" and "," in value:
            label, _, url = value.partition(",")
            if label.strip().lower() in _REPO_LABELS and not info.repository:
                info.repository = url.strip()[:300]
        elif key == "home-page" and not info.repository:
            info.repository = value[:300]
    if licenses:
        info.license = licenses[0][:200]

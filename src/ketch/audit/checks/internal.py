"""Internal layout: internal hostnames, private addresses, and build-machine home folders.

Each says where the package was built or what it talks to inside the publisher's network. A
person's home folder (`/Users/<name>/`) also names a person, so it ranks above a CI runner's.
Speed: one regex pass whose literal prefix is "." finds host and address candidates; two literal
regex passes find home folders; the exact patterns run only near those hits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

# A stop at every "." is the price of one pass for both hosts and addresses (a "." is ~1.3% of
# code), so each stop must fail fast: the host names begin with a literal `re` tests in C, and the
# address branch tests "a digit before the dot" once before its lookbehinds.
_DOT = re.compile(
    rb"\.(?:i(?:nternal|ntranet)(?![\w-])|corp(?![\w-])|l(?:an|ocal)(?![\w-])"
    rb"|(?<=[0-9]\.)(?:(?<=(?<![\w.])10\.)\d|(?<=(?<![\w.])172\.)(?:1[6-9]|2\d|3[01])\.|(?<=(?<![\w.])192\.)168\.))")
# Literal patterns: `re` finds a literal that starts with a rare byte about twice as fast as `bytes.find`.
_USERS = re.compile(rb"Users")
_HOME_AT = re.compile(rb"/home/")
_LABEL = rb"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rb"(?:://|@|['\"`])((?:" + _LABEL + rb"\.)+(?:internal|corp|intranet|lan|local))"
                   rb"(?::\d{1,5})?(?=[/'\"`:\s?#)\],;]|\Z)")
_IP = re.compile(rb"(?<![\w.])(10|172|192)\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w.])")
_PORT = re.compile(rb":\d{2,5}(?!\d)")
_HOST_CONTEXT = re.compile(rb"(?i)(?://|@|(?:host|hostname|addr|address|server|ip|endpoint|url|proxy)\w*['\"]?\s*[:=]\s*['\"]?)\Z")
_VERSION_CONTEXT = re.compile(rb"(?i)version['\"]?\s*[:=]\s*['\"]?\Z")
_MAC = re.compile(rb"(?<![\w.:])/Users/([A-Za-z0-9._-]{1,64})/")
_WINDOWS = re.compile(rb"(?<![\w])([A-Za-z]):(?:\\\\|\\|/)Users(?:\\\\|\\|/)([A-Za-z0-9._-]{1,64})(?:\\\\|\\|/)")
_HOME = re.compile(rb"(?<![\w.])/home/([a-z_][a-z0-9._-]{0,31})/([^\s'\"`<>]{0,200})")

WELL_KNOWN_HOSTS = frozenset({
    "metadata.google.internal", "host.docker.internal", "gateway.docker.internal", "host.containers.internal",
    "kubernetes.docker.internal", "kubernetes.default.svc.cluster.local"})
RUNNERS = frozenset({
    "runner", "runneradmin", "circleci", "travis", "build", "builder", "buildbot", "root", "vsts",
    "vssadministrator", "jenkins", "gitlab-runner", "buildkite-agent", "ubuntu", "ec2-user", "vagrant", "node",
    "app", "distiller", "appveyor", "docker", "worker", "ci", "codebuild", "teamcity", "azureuser", "admin"})
PLACEHOLDERS = frozenset({
    "user", "username", "name", "me", "you", "yourname", "your-name", "your_name", "example", "foo", "shared",
    "public", "default", "guest", "someone", "johndoe", "john", "jane", "xxx", "..."})
_SHOWN_PATHS = 5


@dataclass
class _Value:
    category: str  # "host", "address", "person", "runner"
    count: int = 0
    paths: list[str] = field(default_factory=list)


def internal_values(data: bytes) -> list[tuple[str, str]]:
    """Every (category, value) in `data`, in order, repeats included."""
    found: list[tuple[str, str]] = []
    for hit in _DOT.finditer(data):
        at = hit.start()
        if data[at + 1:at + 2].isalpha():
            _host(data, at, found)
        else:
            _address(data, at, found)
    for hit in _USERS.finditer(data):
        at = hit.start()
        mac = _MAC.match(data, at - 1) if at else None
        if mac:
            _home(found, mac.group(1).decode(), f"/Users/{mac.group(1).decode()}/")
        windows = _WINDOWS.match(data, max(0, at - 4)) or _WINDOWS.match(data, max(0, at - 3))
        if windows:
            name = windows.group(2).decode()
            _home(found, name, f"{windows.group(1).decode().upper()}:\\Users\\{name}\\")
    for hit in _HOME_AT.finditer(data):
        at = hit.start()
        home = _HOME.match(data, at)
        if home and (b"/" in home.group(2) or b"." in home.group(2)):  # a file below it, not a route
            _home(found, home.group(1).decode(), f"/home/{home.group(1).decode()}/")
    return found


def _host(data: bytes, at: int, found: list[tuple[str, str]]) -> None:
    for m in _HOST.finditer(data, max(0, at - 260), at + 40):
        if m.start(1) <= at < m.end(1):
            host = m.group(1).decode().lower()
            if host not in WELL_KNOWN_HOSTS and not host.startswith("example."):
                found.append(("host", host))
            return


def _address(data: bytes, at: int, found: list[tuple[str, str]]) -> None:
    m = _IP.search(data, max(0, at - 3), at + 13)
    if m is None or m.start() > at:
        return
    octets = [int(g) for g in m.groups()]
    if max(octets) > 255 or any(len(g) > 1 and g[0:1] == b"0" for g in m.groups()) or (octets[0] == 192 and octets[1] != 168) or (octets[0] == 172 and not 16 <= octets[1] <= 31):
        return
    before = data[max(0, m.start() - 40):m.start()]
    if _VERSION_CONTEXT.search(before):
        return
    if _HOST_CONTEXT.search(before) or _PORT.match(data, m.end()):
        found.append(("address", m.group(0).decode()))


def _home(found: list[tuple[str, str]], name: str, value: str) -> None:
    if name.lower() in PLACEHOLDERS:
        return
    found.append(("runner" if name.lower() in RUNNERS else "person", value))


class InternalCheck:
    """One finding per internal value, with its count and the first members it was seen in."""

    def __init__(self) -> None:
        self._values: dict[str, _Value] = {}

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        return None

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None:
        for category, value in internal_values(piece.data):
            seen = self._values.setdefault(value, _Value(category))
            seen.count += 1
            if piece.path not in seen.paths and len(seen.paths) < _SHOWN_PATHS:
                seen.paths.append(piece.path)
        return None

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        return [_finding(value, seen) for value, seen in sorted(self._values.items())]


_SAID = {
    "host": ("internal hostname", Severity.LOW, "names a host inside the publisher's network",
             "Read the address from configuration at run time; the package does not need it."),
    "address": ("private network address", Severity.LOW, "names an address inside the publisher's network",
                "Read the address from configuration at run time; the package does not need it."),
    "person": ("build-machine path names a person", Severity.MEDIUM,
               "names the person who built the package, and their folder layout",
               ("Build with relative paths (a source-map path template, `--remap-path-prefix`, `sourceRoot`) "
               "or from a CI runner, and exclude the file if it is not needed.")),
    "runner": ("build-machine path", Severity.LOW, "shows the build machine's folder layout",
               "Build with relative paths (a source-map path template, `--remap-path-prefix`, `sourceRoot`)."),
}


def _finding(value: str, seen: _Value) -> Finding:
    title, severity, enables, fix = _SAID[seen.category]
    return Finding(
        Kind.INTERNAL, severity, f"{title}: {value}", path=seen.paths[0], evidence=value, enables=enables,
        fix=fix, rule=f"internal/{seen.category}",
        facts={"value": value, "count": seen.count, "paths": list(seen.paths), "category": seen.category})

"""The words of `ketch audit`: a piece of a member, a finding, its severity, and the Check seam.

Every check is a pure function of one artifact's members (DESIGN.md §6: the unit of work can
run anywhere, on any core or a cluster): it sees pieces as the reader streams them, keeps what
it needs, and says its findings at the end. Nothing here reads files or prints.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class Severity(enum.IntEnum):
    """How much a finding costs its publisher if the artifact ships as it is.

    `--fail-on LEVEL` fails on LEVEL and everything above it. Critical is above high so that
    the default (`--fail-on high`) still fails on it.
    """

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}: use critical, high, medium, low or info") from None


class Kind(enum.IntEnum):
    """What a finding discloses, in the order of consequence the report keeps (most first).

    weights ≫ live-format credentials ≫ original source ≫ roadmap names ≫ hygiene.
    """

    WEIGHTS = 0          # model weights: the model itself
    CREDENTIAL = 1       # a key in a format its issuer made recognisable (live until rotated)
    SOURCE = 2           # original source rebuilt from source maps
    SECRET_GUESS = 3     # a high-entropy value assigned to a secret-like name
    ROADMAP = 4          # flag names and internal-user gates: what the team has not announced
    INTERNAL = 5         # internal hostnames, private addresses, build-machine paths, map `sources` layout
    SHOULD_NOT_SHIP = 6  # .env, .npmrc, .git/, agent and editor files, backups, .pyc in an sdist
    LARGE_BINARY = 7     # big opaque files that are not weights
    ARCHIVE = 8          # the artifact itself: bombs, traversal names, links, unreadable members

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class Finding:
    """One thing the artifact discloses, said so a person can act on it.

    `title` is one line ("AWS access key id"); `enables` says what an outsider can now do;
    `fix` says what to do (rotate, exclude with these lines). `evidence` is never a whole
    secret: checks mask credentials before they build a Finding. `facts` holds counts for
    the machine formats (files, lines, names).
    """

    kind: Kind
    severity: Severity
    title: str
    path: str = ""
    line: int | None = None
    evidence: str = ""
    enables: str = ""
    fix: str = ""
    rule: str = ""  # a stable id for SARIF and allow-lists: "credential/aws-access-key-id"
    facts: dict[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[int, int, str, int]:
        return (-int(self.severity), int(self.kind), self.path, self.line or 0)


@dataclass(frozen=True)
class Piece:
    """Some or all of one member's bytes, as the reader hands them to the checks.

    A member up to the reader's whole-read limit arrives as one piece (`whole` is true); a
    larger one arrives in windows that overlap by `OVERLAP` bytes, so a token cut by a window
    edge is still seen whole in the next. `path` names the member inside nested archives with
    `!/` ("pkg.tgz!/package/dist/cli.js"); an original source decoded from a map is named
    after the map with `#` ("package/dist/cli.js.map#src/main.ts") and has `origin` "map".
    """

    path: str
    data: bytes
    offset: int
    size: int
    whole: bool
    origin: str = ""  # "" shipped as it is; "map" an original source decoded from a source map


    @property
    def first(self) -> bool:
        return self.offset == 0

    @property
    def name(self) -> str:
        """The member's own file name, without its folders or archive."""
        return self.path.rsplit("/", 1)[-1]


OVERLAP = 4096


@dataclass(frozen=True)
class Entry:
    """A member's place in the artifact, whatever its content: for the inventory, links and hygiene.

    `link` is a symlink's or hardlink's target; such members carry no data and are never followed.
    """

    path: str
    size: int
    link: str | None = None
    hardlink: bool = False


@dataclass
class ArtifactInfo:
    """What the reader learned of the artifact as a whole, for fixes and proportion.

    `ecosystem` is "npm", "python-wheel", "python-sdist", "docker", "git", "folder" or "archive";
    `license` and `repository` come from package.json or the Python metadata when present
    (source in maps of an MIT package with a public repository is less of a leak than of an
    unlicensed one).
    """

    name: str
    ecosystem: str = "archive"
    license: str = ""
    repository: str = ""
    version: str = ""


class Check(Protocol):
    """One kind of finding. `entry` is called for every member (links and empty files included)
    before its pieces; `visit` for every piece, in stream order; `finish` once, at the end.

    `visit` may return pieces it derived (the original sources inside a source map): the
    scanner hands those to every check, so a credential or flag name inside `sourcesContent`
    is found by the same rules as in shipped code. A returned piece with the visited piece's
    path and no origin replaces it for the checks after this one (a map's JSON without the
    sources it has handed on, so they are not read twice).
    """

    def entry(self, entry: Entry, info: ArtifactInfo) -> None: ...

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None: ...

    def finish(self, info: ArtifactInfo) -> list[Finding]: ...


def mask(secret: str) -> str:
    """Show enough of a secret to find it, never enough to use it: `AKIA…` + length."""
    keep = 4 if len(secret) > 12 else 2
    return f"{secret[:keep]}…({len(secret)} chars)"

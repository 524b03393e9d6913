"""Unreleased names: feature-flag identifiers and internal-user gates, in shipped code and in maps.

A name found only in the original sources a map carries (the bundler eliminated its branch
from the shipped code) is the roadmap leaking: the 2.1.88 case. A name in shipped code that the
team has not declared public is the same kind of disclosure, already out and smaller.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ketch.audit.checks import flag_idioms as idioms
from ketch.audit.checks.mapfile import looks_like_map
from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

_HAS_LETTER = re.compile(r"[A-Za-z]")
_GATE_SCAN = re.compile(rb"is(?:Employee|Internal(?:User)?|Dogfood|Staff)(?![\w$])")
# Where an idioms.ENV match holds its `env`: `X.env.`, `X.env[`, `os.environ.`/`[`, `os.getenv(`.
# The pattern starts with the literal `v` (rarer in code than `e` or `.`) so that `re` skips to it
# in C; `b"env" in data` and a `find` loop stopped at every `environment` and `envelope` in Python.
_ENV_AT = re.compile(rb"v(?:(?<=\.env)(?=[.\[]|iron[.\[])|(?<=\.getenv)(?=\())")
_USER_TYPE_AT = re.compile(rb"USER_TYPE")  # sre's literal search is faster than `bytes in` here
_SHOWN = 12


@dataclass
class _Seen:
    system: str
    first_path: str
    shipped: bool = False
    in_map: bool = False


def names_in(data: bytes) -> list[tuple[str, str]]:
    """Every (system, name) the idioms find in `data`, in order, repeats included."""
    found: list[tuple[str, str]] = []
    for match in idioms.CALL.finditer(data):
        _call(data, match.end(), found)
    _env(data, found)
    if _USER_TYPE_AT.search(data):
        for m in idioms.USER_TYPE.finditer(data):
            value = (m.group(2) or m.group(4)).decode("ascii", "replace")
            found.append(("internal-user", f"USER_TYPE={value}"))
    for m in _GATE_SCAN.finditer(data):
        found.append(("internal-user", m.group(0).decode()))
    return found


def _call(data: bytes, at: int, found: list[tuple[str, str]]) -> None:
    callee = idioms.CALLEE.search(data, max(0, at - 49), at - 1)
    if callee is None:
        return
    name = callee.group(2).decode()
    if name in idioms.NO_ARGUMENT:
        member = idioms.MEMBERS.match(data, at)
        if member:
            found.append((idioms.NO_ARGUMENT[name], member.group(1).decode()))
        before = idioms.DESTRUCTURED.search(data, max(0, callee.start(2) - 640), callee.start(2))
        if before:
            for part in before.group(1).decode().split(","):
                key = part.split(":")[0].strip()
                if key:
                    found.append((idioms.NO_ARGUMENT[name], key))
        return
    system = idioms.CALLS.get(name)
    if system is None:
        return
    if system == "internal-user":
        email = idioms.EMAIL.match(data, at)
        if email:
            found.append((system, "email=@" + email.group(2).decode().lower()))
        return
    if name == "feature" and callee.group(1):
        system = "growthbook"  # `gb.feature("key")`; the bare macro is `feature("KEY")`
    argument = idioms.ARGUMENT.match(data, at)
    if argument:
        _add(found, system, argument.group(2))
        return
    listed = idioms.LIST.match(data, at) if system == "split" else None
    if listed:
        for quoted in idioms.QUOTED.finditer(listed.group(1)):
            _add(found, system, quoted.group(2))


def _env(data: bytes, found: list[tuple[str, str]]) -> None:
    resume = 0
    for hit in _ENV_AT.finditer(data):
        at = hit.start() - 2  # the `e` of `env`
        if at < resume:
            continue
        m = idioms.ENV.search(data, max(0, at - 12), at + 100)
        if m:
            name = m.group(1) or m.group(3) or m.group(5)
            if idioms.ENV_FLAG.fullmatch(name):
                found.append(("env", name.decode()))
            resume = max(m.end(), at + 3)
        else:
            resume = at + 3


def _add(found: list[tuple[str, str]], system: str, raw: bytes) -> None:
    name = raw.decode("ascii", "replace")
    if _HAS_LETTER.search(name):
        found.append((system, name))


class FlagCheck:
    """Collects flag names and gates; reports those the team has not declared public."""

    def __init__(self, public: frozenset[str] = frozenset()) -> None:
        self.public = public
        self._seen: dict[str, _Seen] = {}

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        return None

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None:
        if "node_modules/" in piece.path:
            return None  # a dependency's flags are not this team's roadmap
        in_map = piece.origin == "map"
        if not in_map and (piece.path.lower().endswith(".map") or (piece.first and looks_like_map(piece.data))):
            return None  # the map's own JSON: its sources come back decoded, as map pieces
        for system, name in names_in(piece.data):
            seen = self._seen.get(name)
            if seen is None:
                seen = self._seen[name] = _Seen(system, piece.path)
            if in_map:
                seen.in_map = True
            else:
                seen.shipped = True
        return None

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        unknown = {n: s for n, s in self._seen.items() if n not in self.public}
        map_only = sorted(n for n, s in unknown.items() if s.in_map and not s.shipped)
        shipped = sorted(n for n, s in unknown.items() if s.shipped)
        findings = []
        if map_only:
            findings.append(Finding(
                Kind.ROADMAP, Severity.MEDIUM,
                f"{len(map_only)} unreleased flag name{'s' * (len(map_only) != 1)}, present only inside source maps",
                path=unknown[map_only[0]].first_path, evidence=_shown(map_only),
                enables="anyone can read the roadmap: features built but not released, by name",
                fix="Remove the source maps from the package (the names come from their `sourcesContent`); "
                    "treat a flag name as public once it is committed to code that ships.",
                rule="roadmap/map-only-flags", facts=self._facts(map_only, unknown)))
        if shipped:
            findings.append(Finding(
                Kind.ROADMAP, Severity.LOW,
                f"{len(shipped)} flag name{'s' * (len(shipped) != 1)} in shipped code, not declared public",
                path=unknown[shipped[0]].first_path, evidence=_shown(shipped),
                enables="anyone reading the package sees these flag and gate names",
                fix="Declare the public names (`--public FILE`); strip the rest at build time "
                    "(a define that removes the branch) before release.",
                rule="roadmap/shipped-flags", facts=self._facts(shipped, unknown)))
        return findings

    @staticmethod
    def _facts(names: list[str], seen: dict[str, _Seen]) -> dict[str, object]:
        return {"names": names, "systems": dict(sorted(Counter(seen[n].system for n in names).items())),
                "first_seen": {n: seen[n].first_path for n in names},
                "gates": [n for n in names if seen[n].system == "internal-user"]}


def _shown(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f", and {more} more" if more > 0 else "")

"""Credentials in an artifact: the well-known formats first, guessed secrets after and lower.

Works on pieces of any origin (shipped files, `.pyc` bytes, sources decoded from maps). Windows
of a large member overlap (model.OVERLAP): a match that reaches a window's end may be cut, so it
waits for the next window, which sees it whole; a match seen in two windows is counted once (its
absolute offset is remembered). The same secret in many files is one finding with the count.
Never verifies a key and never touches the network: a finding is the shape, not a login.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ketch.audit.checks.hit import Hit
from ketch.audit.checks.secret_guess import find_guesses
from ketch.audit.checks.secret_hits import find_credentials, lower_anchors
from ketch.audit.model import OVERLAP, ArtifactInfo, Entry, Finding, Kind, Piece, Severity, mask
from ketch.security.credential_formats import CredentialFormat, formats

_SHOWN_PATHS = 5
# A piece is searched a slice at a time (slices overlap by OVERLAP, as windows do): the keyword hits
# of a whole 64 MB piece dense with `password`/`token` were millions of tuples, 700 MB at peak.
_SLICE = 4 << 20
_GUESS_ENABLES = ("if it is a live credential, whatever its service lets the holder do; it was found by "
                  "its name and randomness, not by a known format")
_GUESS_FIX = ("If it is a real secret: rotate it first (unpublishing does not un-leak), then read it from "
              "the environment or a secret store instead of the source.")


@dataclass
class _Seen:
    """One secret value, wherever it occurs."""

    hit: Hit
    severity: Severity
    paths: list[str] = field(default_factory=list)
    files: int = 0
    occurrences: int = 0
    line: int | None = None
    origins: set[str] = field(default_factory=set)


@dataclass
class _Member:
    """What a member's earlier windows left: hits already counted, and where lines stand."""

    counted: set[tuple[int, str]] = field(default_factory=set)
    offset: int = 0
    lines_before: int | None = 0
    data: bytes = b""


class SecretsCheck:
    """model.Check: Kind.CREDENTIAL for well-known formats, Kind.SECRET_GUESS for guesses."""

    def __init__(self, *, guesses: bool = True) -> None:
        self.guesses = guesses
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._members: dict[str, _Member] = {}
        self._paths_with: dict[tuple[str, str], set[str]] = {}

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        return None

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None:
        data = piece.data
        if piece.whole and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            # UTF-16 with its BOM (PowerShell's `>` writes it): every pattern here is over UTF-8 bytes.
            data = data.decode("utf-16", "replace").encode("utf-8", "replace")
        end = piece.offset + len(data)
        final = piece.whole or end >= piece.size
        known = None if piece.first else self._members.get(piece.path)
        member = known or _Member(offset=piece.offset, lines_before=0 if piece.first else None)
        lines_before = self._lines_before(member, piece)
        binary = b"\x00" in data[:4096]
        counted_to, newlines = 0, 0  # line numbers counted forward through the piece, not from 0 per hit
        for start in range(0, len(data), _SLICE):
            part = data[start:start + _SLICE + OVERLAP]
            last = start + _SLICE >= len(data)
            for hit in sorted(self._hits(part, binary), key=lambda h: h.start):
                if not (final and last) and hit.end >= len(part):
                    continue  # perhaps cut by the slice's or window's end: the next one sees it whole
                where = (piece.offset + start + hit.start, hit.rule)
                if where in member.counted:
                    continue
                member.counted.add(where)
                line = None
                if not binary and lines_before is not None:
                    at = start + hit.start
                    newlines += (data.count(b"\n", counted_to, at) if at >= counted_to
                                 else -data.count(b"\n", at, counted_to))
                    counted_to = at
                    line = lines_before + newlines + 1
                self._count(hit, piece, line)
        if final:
            self._members.pop(piece.path, None)
        else:
            member.offset, member.lines_before, member.data = piece.offset, lines_before, data
            self._members[piece.path] = member
        return None

    def _hits(self, data: bytes, binary: bool) -> list[Hit]:
        lowered = [] if binary else lower_anchors().find(data.lower())
        hits = find_credentials(data, lowered, binary)
        if self.guesses and not binary:
            claimed = [(h.start, h.end) for h in hits]
            hits += [g for g in find_guesses(data, lowered) if not any(a < g.end and g.start < b for a, b in claimed)]
        return hits

    @staticmethod
    def _lines_before(member: _Member, piece: Piece) -> int | None:
        """Newlines before the piece, from the previous window of the member when they overlap."""
        if piece.first:
            return 0
        if member.lines_before is None or not member.offset <= piece.offset <= member.offset + len(member.data):
            return None
        return member.lines_before + member.data.count(b"\n", 0, piece.offset - member.offset)

    def _count(self, hit: Hit, piece: Piece, line: int | None) -> None:
        key = (hit.rule, hit.value)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = _Seen(hit, _severity(hit), line=line)
        seen.occurrences += 1
        seen.origins.add(piece.origin or "shipped")
        paths = self._paths_with.setdefault(key, set())
        if piece.path not in paths:
            paths.add(piece.path)
            seen.files += 1
            if len(seen.paths) < _SHOWN_PATHS:
                seen.paths.append(piece.path)

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        by_rule = {f.rule: f for f in formats()}
        findings = [_finding(seen, by_rule.get(seen.hit.rule)) for seen in self._seen.values()]
        self._seen, self._members, self._paths_with = {}, {}, {}
        return sorted(findings, key=Finding.sort_key)


def _severity(hit: Hit) -> Severity:
    if hit.low:
        return Severity.LOW
    if hit.rule == "secret-guess":
        return Severity.MEDIUM
    rank = next((f.rank for f in formats() if f.rule == hit.rule), "high")
    return {"critical": Severity.CRITICAL, "high": Severity.HIGH}.get(rank, Severity.LOW)


def _finding(seen: _Seen, fmt: CredentialFormat | None) -> Finding:
    hit = seen.hit
    shown = mask(hit.value)
    if fmt is None:
        title, kind, rule = f"Possible secret assigned to `{hit.name}`", Kind.SECRET_GUESS, "secret-guess/assignment"
        evidence, enables, fix = f"{hit.name} = {shown}", _GUESS_ENABLES, _GUESS_FIX
    else:
        title, kind, rule = fmt.name, Kind.CREDENTIAL, f"credential/{fmt.rule}"
        evidence, enables, fix = shown, fmt.enables, fmt.fix
    if hit.why:
        title = f"{title} ({hit.why})"
    if seen.files > 1:
        evidence += f"; the same value in {seen.files} files: {', '.join(seen.paths)}"
        if seen.files > len(seen.paths):
            evidence += ", …"
    facts = {"files": seen.files, "occurrences": seen.occurrences, "paths": list(seen.paths),
             "origins": sorted(seen.origins), "issuer": fmt.issuer if fmt else ""}
    return Finding(kind, seen.severity, title, seen.paths[0], seen.line, evidence, enables, fix, rule, facts)

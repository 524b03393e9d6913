"""Original source shipped inside source maps: external `.map` members and inline `data:` maps.

Each original file a map carries in `sourcesContent` is handed back to the scanner as a derived
piece, so the other checks (credentials, flag names) read the code as it was written, not as
the bundler left it. The findings say how much source leaked and whether it was already public.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ketch.audit.checks.mapfile import (
    INLINE_MARK,
    MapError,
    SourceMap,
    decode_inline,
    find_inline,
    looks_like_json,
    looks_like_map,
    parse_map,
)
from ketch.audit.checks.maplayout import discloses_layout, third_party
from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

_INLINE_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".css", ".ts", ".tsx", ".html", ".htm")
_CONTENT_KEY = re.compile(rb'"sourcesContent"\s*:\s*\[\s*"')
_OPEN = re.compile(
    r"\b(?:MIT|ISC|Apache|BSD|0BSD|GPL|LGPL|AGPL|MPL|EPL|CDDL|Unlicense|CC0|Zlib|Artistic|BlueOak|"
    r"Python-2\.0|PSF|WTFPL|BSL-1\.0|Boost|Permission is hereby granted)", re.IGNORECASE)
_CLOSED = re.compile(r"^\s*(?:UNLICENSED|SEE LICENSE IN)|proprietary|all rights reserved|commercial",
                     re.IGNORECASE)
_LAYOUT_SHOWN = 20
_TOP = 10

FIX = ("Exclude *.map from the package, or build without `sourcesContent`; a map without content "
       "still maps the minified code back to the original file names and paths.")
FIX_INLINE = ("Build without inline source maps (no `sourceMappingURL=data:` comment); a map without "
              "content still maps the minified code back to the original file names and paths.")
ENABLES = "anyone can rebuild the original source files from the package (`ketch audit --extract`)"


@dataclass
class _Map:
    path: str
    inline: bool
    sources: int
    files: list[tuple[str, int, int]] = field(default_factory=list)  # path, lines, bytes
    layout: list[str] = field(default_factory=list)


def open_license(license_text: str) -> bool:
    """An OSI-style license: anything recognisable as one and not marked proprietary."""
    return bool(license_text.strip()) and not _CLOSED.search(license_text) and bool(_OPEN.search(license_text))


def count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


class SourceMapCheck:
    """Finds source maps, hands their original sources to the other checks, and weighs the leak."""

    def __init__(self) -> None:
        self._maps: list[_Map] = []
        self._unreadable: list[tuple[str, str]] = []
        self._too_big: dict[str, tuple[int, bool]] = {}  # path → size, content seen

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        return None

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None:
        if piece.origin == "map":
            return None
        lower = piece.path.lower()
        if piece.path in self._too_big or lower.endswith(".map") or (piece.first and looks_like_map(piece.data)):
            return self._external(piece)
        if lower.endswith(_INLINE_SUFFIXES) and INLINE_MARK in piece.data:
            return self._inline(piece)
        return None

    def _external(self, piece: Piece) -> list[Piece] | None:
        if not piece.whole:
            if piece.first and not looks_like_json(piece.data):
                return None
            size, content = self._too_big.get(piece.path, (piece.size, False))
            self._too_big[piece.path] = (size, content or bool(_CONTENT_KEY.search(piece.data)))
            return None
        data = piece.data
        if not looks_like_json(data) or not (looks_like_map(data) or b'"mappings"' in data or b'"sections"' in data):
            return None  # a linker map or some other `.map` file: not a source map
        try:
            parsed = parse_map(data)
        except MapError as exc:
            self._unreadable.append((piece.path, str(exc)))
            return None
        # The map's JSON minus its sources stands in for it (same path, shipped origin): the checks
        # after this one read each source once, decoded, instead of twice.
        rest = Piece(piece.path, parsed.rest, 0, len(parsed.rest), True)
        return [rest, *self._record(piece.path, parsed, inline=False)]

    def _inline(self, piece: Piece) -> list[Piece] | None:
        if not piece.whole:  # the payload may be cut by a window edge: weigh it, do not decode it
            size, content = self._too_big.get(piece.path, (piece.size, False))
            long_payload = any(len(m.payload) >= 1024 for m in find_inline(piece.data))
            self._too_big[piece.path] = (size, content or long_payload)
            return None
        derived: list[Piece] = []
        for inline in find_inline(piece.data):
            try:
                parsed = parse_map(decode_inline(inline))
            except MapError as exc:
                self._unreadable.append((piece.path, str(exc)))
                continue
            derived.extend(self._record(piece.path, parsed, inline=True))
        return derived or None

    def _record(self, path: str, parsed: SourceMap, *, inline: bool) -> list[Piece]:
        record = _Map(path, inline, len(parsed.sources))
        record.layout = [s for s in parsed.sources if discloses_layout(s)]
        derived = []
        for source, text in parsed.contents:
            data = text.encode("utf-8", "replace")
            record.files.append((source, count_lines(text), len(data)))
            derived.append(Piece(f"{path}#{source}", data, 0, len(data), True, origin="map"))
        self._maps.append(record)
        return derived

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        with_content = [m for m in self._maps if m.files]
        # One map with content: the summary says all its own finding would, once.
        findings = [self._map_finding(m, info) for m in self._maps if len(with_content) != 1 or not m.files]
        if len(with_content) > 1:  # several: the summary carries the weight, each map's own finding is detail
            findings = [dataclasses.replace(f, severity=Severity.INFO) if f.rule == "source/map-content" else f
                        for f in findings]
        summary = self._summary(info)
        if summary:
            findings.append(summary)
        for path, reason in self._unreadable:
            findings.append(Finding(
                Kind.SOURCE, Severity.LOW, "unreadable source map", path=path, evidence=reason,
                enables="nothing certain: a tool more forgiving than ketch may still read it",
                fix=FIX, rule="source/unreadable-map", facts={"paths": [path]}))
        for path, (size, content) in self._too_big.items():
            severity = _leak_severity(info) if content else Severity.LOW
            findings.append(Finding(
                Kind.SOURCE, severity, f"source map too big to read whole ({size:,} bytes): not decoded",
                path=path, evidence="carries sourcesContent" if content else "",
                enables=ENABLES if content else "maps minified code back to original names and paths",
                fix=FIX, rule="source/map-too-big", facts={"paths": [path], "bytes": size}))
        return findings

    def _map_finding(self, record: _Map, info: ArtifactInfo) -> Finding:
        facts: dict[str, object] = {
            "paths": [record.path], "inline": record.inline, "sources": record.sources,
            "layout": record.layout[:_LAYOUT_SHOWN], "layout_count": len(record.layout)}
        fix = FIX_INLINE if record.inline else FIX
        where = "inline source map" if record.inline else "source map"
        if not record.files:
            shown = ", ".join(record.layout[:5])
            return Finding(
                Kind.INTERNAL, Severity.LOW, f"{where} without content names {record.sources:,} original files",
                path=record.path, evidence=shown,
                enables="maps minified code back to original names and paths"
                        + ("; the paths disclose internal layout" if record.layout else ""),
                fix=fix, rule="internal/map-sources", facts=facts)
        own = [f for f in record.files if not third_party(f[0])]
        facts.update(files=len(record.files), lines=sum(f[1] for f in record.files),
                     bytes=sum(f[2] for f in record.files), third_party_files=len(record.files) - len(own))
        if not own:
            return Finding(
                Kind.SOURCE, Severity.LOW,
                f"{where} carries {len(record.files):,} third-party files only (node_modules)",
                path=record.path, enables="little: the dependencies' source is public already",
                fix=fix, rule="source/map-third-party", facts=facts)
        severity = _leak_severity(info)
        lines = sum(f[1] for f in own)
        return Finding(
            Kind.SOURCE, severity, f"{where} carries original source: {len(own):,} files, {lines:,} lines",
            path=record.path, evidence=", ".join(p for p, _l, _b in sorted(own, key=lambda f: -f[2])[:3]),
            enables=ENABLES + _public_note(info), fix=fix, rule="source/map-content", facts=facts)

    def _summary(self, info: ArtifactInfo) -> Finding | None:
        seen: dict[str, tuple[int, int]] = {}
        maps = 0
        for record in self._maps:
            maps += bool(record.files)
            for path, lines, size in record.files:
                seen.setdefault(path, (lines, size))
        if not seen:
            return None
        own = {p: v for p, v in seen.items() if not third_party(p)}
        ranked = own or seen
        top = sorted(ranked, key=lambda p: (-ranked[p][1], p))[:_TOP]
        files, lines, size = len(own), sum(v[0] for v in own.values()), sum(v[1] for v in own.values())
        if own:
            title = (f"original source of {files:,} file{'s' if files != 1 else ''}, {lines:,} line{'s' if lines != 1 else ''}"
                     ": an implementation reference")
            severity = _leak_severity(info)
        else:
            title = f"source maps carry {len(seen):,} third-party files only: little disclosed"
            severity = Severity.LOW
        map_paths = sorted({r.path for r in self._maps if r.files})
        only = [r for r in self._maps if r.files]
        facts: dict[str, object] = {"files": files, "lines": lines, "bytes": size, "maps": maps, "top_paths": top,
                                    "third_party_files": len(seen) - len(own), "paths": map_paths}
        if len(only) == 1:
            facts.update(inline=only[0].inline, sources=only[0].sources, layout=only[0].layout[:_LAYOUT_SHOWN],
                         layout_count=len(only[0].layout))
        return Finding(
            Kind.SOURCE, severity, title, path=only[0].path if len(only) == 1 else info.name,
            evidence=", ".join(top[:3]), enables=ENABLES + _public_note(info),
            fix=FIX_INLINE if len(only) == 1 and only[0].inline else FIX, rule="source/summary", facts=facts)


def _public_repository(repository: str) -> bool:
    """A repository an outsider could reach: named, and not on an internal host or private address
    (`git@gitlab.acme.corp:...` says the source lives inside the publisher's network)."""
    from ketch.audit.checks.internal import internal_values

    return bool(repository.strip()) and not internal_values(f"//{repository}".encode())


def _leak_severity(info: ArtifactInfo) -> Severity:
    """Medium only when the source is likely public already: an open license and a public repository."""
    return Severity.MEDIUM if open_license(info.license) and _public_repository(info.repository) else Severity.HIGH


def _public_note(info: ArtifactInfo) -> str:
    if not open_license(info.license):
        return "; the package has no open license, so this source was not public"
    if info.repository and not _public_repository(info.repository):
        return f"; its repository {info.repository} is on an internal host, so this source was not public"
    if info.repository:
        return f"; likely already public at {info.repository}"
    return "; open license, but no repository is named, so it may not be public elsewhere"

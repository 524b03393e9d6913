"""Reading one source map: external JSON, inline `data:` URLs, indexed `sections`.

Kept apart from the check so the same reader serves `--extract`. A map is hostile input: every
failure is a `MapError` with a short reason, never another exception (bad JSON, bad base64,
wrong types, nesting deep enough to exhaust the recursion limit).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from ketch.errors import AuditError

INLINE_MARK = b"sourceMappingURL=data:"
_XSSI = b")]}'"  # the spec allows this prefix, to stop a map being run as script
_BOM = b"\xef\xbb\xbf"  # Windows tools write UTF-8 with one; JSON readers skip it, so a map may carry it
_HEAD = re.compile(rb'\s*\{\s*"version"\s*:\s*3\b')
_MAX_SECTION_DEPTH = 4


class MapError(AuditError):
    """A map that cannot be read; `str()` is the reason, said in a few words.

    The check turns it into a finding; `--extract` lets it reach the person as one line.
    """


@dataclass
class SourceMap:
    """What one map (its sections flattened) says: every `sources` path, and the content it carries.

    `contents` pairs a source path with its non-null `sourcesContent` text; `sources` holds every
    path, with or without content.
    """

    sources: list[str] = field(default_factory=list)
    contents: list[tuple[str, str]] = field(default_factory=list)
    external_sections: int = 0  # sections naming another map by `url`: not read here
    rest: bytes = b""  # the map's own JSON without sourcesContent and mappings: what is left to scan


# sourcesContent reaches the checks as the decoded sources; mappings are base64 VLQ offsets.
_SCANNED_ELSEWHERE = frozenset({"sourcesContent", "mappings", "sections"})


def looks_like_map(data: bytes) -> bool:
    """A JSON document that opens with {"version":3: a source map whatever its file name."""
    head = data[:64].removeprefix(_BOM)
    if head.startswith(_XSSI):
        head = head[len(_XSSI):].lstrip()
    return _HEAD.match(head) is not None


def looks_like_json(data: bytes) -> bool:
    head = data[:16].removeprefix(_BOM).lstrip()
    return head.startswith((b"{", _XSSI))


def parse_map(data: bytes) -> SourceMap:
    """Parse one map's bytes, or raise MapError."""
    data = data.removeprefix(_BOM)
    if data.startswith(_XSSI):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    try:
        doc = json.loads(data)
    except RecursionError:
        raise MapError("nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MapError(f"not JSON ({str(exc)[:60]})") from None
    out = SourceMap()
    _read(doc, out, 0)
    out.rest = json.dumps({k: v for k, v in doc.items() if k not in _SCANNED_ELSEWHERE}).encode()
    return out


def _read(doc: object, out: SourceMap, depth: int) -> None:
    if not isinstance(doc, dict):
        raise MapError("not a JSON object")
    if depth > _MAX_SECTION_DEPTH:
        raise MapError("sections nested too deeply")
    if "sections" in doc:
        sections = doc["sections"]
        if not isinstance(sections, list):
            raise MapError("`sections` is not a list")
        for section in sections:
            if not isinstance(section, dict):
                raise MapError("a section is not an object")
            if "map" in section:
                _read(section["map"], out, depth + 1)
            elif "url" in section:
                out.external_sections += 1
            else:
                raise MapError("a section has neither `map` nor `url`")
        return
    sources = doc.get("sources")
    if not isinstance(sources, list):
        raise MapError("`sources` is missing or not a list")
    root = doc.get("sourceRoot") or ""
    if not isinstance(root, str):
        raise MapError("`sourceRoot` is not a string")
    contents = doc.get("sourcesContent") or []
    if not isinstance(contents, list):
        raise MapError("`sourcesContent` is not a list")
    for i, source in enumerate(sources):
        if source is None:
            source = f"<source {i}>"
        if not isinstance(source, str):
            raise MapError("a `sources` entry is not a string")
        path = _join(root, source)
        out.sources.append(path)
        text = contents[i] if i < len(contents) else None
        if text is None:
            continue
        if not isinstance(text, str):
            raise MapError("a `sourcesContent` entry is not a string")
        out.contents.append((path, text))


def _join(root: str, source: str) -> str:
    if not root or "://" in source or source.startswith("/"):
        return source
    return root.rstrip("/") + "/" + source


@dataclass(frozen=True)
class InlineMap:
    """One `sourceMappingURL=data:` comment: where it starts, and its payload, still encoded."""

    offset: int
    media: bytes
    payload: bytes


_END = re.compile(rb"[\s'\"`]|\*/")


def find_inline(data: bytes) -> list[InlineMap]:
    """Every inline JSON map in a text piece (several when bundles were concatenated).

    A mention of the marker with no payload (a bundler's own code building the comment from
    strings) is not a map and is skipped.
    """
    found: list[InlineMap] = []
    at = data.find(INLINE_MARK)
    while at != -1:
        start = at + len(INLINE_MARK)
        comma = data.find(b",", start, start + 200)
        if comma != -1:
            media = data[start:comma].lower()
            end_match = _END.search(data, comma + 1)
            end = end_match.start() if end_match else len(data)
            payload = data[comma + 1:end]
            if b"json" in media and len(payload) >= 8:
                found.append(InlineMap(at, media, payload))
        at = data.find(INLINE_MARK, start)
    return found


def decode_inline(inline: InlineMap) -> bytes:
    """The JSON bytes of an inline map, or MapError (bad base64 or percent-encoding)."""
    if b";base64" in inline.media:
        try:
            payload = inline.payload + b"=" * (-len(inline.payload) % 4)
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise MapError("bad base64 in an inline map") from None
    return unquote_to_bytes(inline.payload)

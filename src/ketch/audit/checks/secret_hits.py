"""Where the well-known credential formats occur in a buffer of bytes.

Bytes, never decoded text: a `.pyc` keeps its string constants as raw bytes, a bundle may not be
UTF-8, and decoding 20 MB to find nothing is the cost to avoid. Each format's literal keywords
are found with `bytes.find` (C speed); its regex runs only in the merged windows around them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re

from ketch.audit.checks.anchors import Anchors
from ketch.audit.checks.hit import Hit
from ketch.audit.checks.placeholders import is_placeholder, is_placeholder_password
from ketch.audit.checks.secret_guess import keywords as guess_keywords
from ketch.security.credential_formats import CredentialFormat, formats

_ANCHORS = b"_-/AJG"       # in shipped bytes: each character one C-speed pass (see anchors.py)
LOWER_ANCHORS = b"kwc"      # in lower-cased bytes: names said in any case (discord, twilio, secret)


def _context(fmt: CredentialFormat) -> bool:
    """A format told by a nearby name in any case, searched for in the lower-cased piece."""
    return len({k.lower() for k in fmt.keywords}) < len(fmt.keywords)


@functools.cache
def lower_anchors() -> Anchors:
    """Names said in any case, found in the lower-cased piece once for both kinds of hit: the
    context formats' (discord, twilio, aws_secret…) and the guesses' (password, token…)."""
    context = [k.lower().encode() for f in formats() if _context(f) for k in f.keywords]
    return Anchors(context + guess_keywords(), LOWER_ANCHORS)


@functools.cache
def _plan() -> tuple[Anchors, dict[bytes, list[tuple[CredentialFormat, int, int]]],
                     dict[bytes, list[tuple[CredentialFormat, int, int]]]]:
    """The anchor scan of shipped bytes, and which formats look near each kept keyword's hits
    (how far back and ahead: a keyword that holds a kept one looks as far as its own length)."""
    exact = [k.encode() for f in formats() if not _context(f) for k in f.keywords]
    anchors = Anchors(exact, _ANCHORS)
    return anchors, _consumers(anchors.kept, False), _consumers(lower_anchors().kept, True)


def _consumers(kept: tuple[bytes, ...], lower: bool) -> dict[bytes, list[tuple[CredentialFormat, int, int]]]:
    out: dict[bytes, list[tuple[CredentialFormat, int, int]]] = {}
    for fmt in formats():
        if _context(fmt) != lower:
            continue
        for kw in {(k.lower() if lower else k).encode() for k in fmt.keywords}:
            for k in kept:
                if k in kw:
                    out.setdefault(k, []).append((fmt, fmt.near[0] + len(kw), fmt.near[1] + len(kw)))
    return out


def _windows(hits: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    hits.sort()
    merged: list[tuple[int, int]] = []
    for a, b in hits:
        a, b = max(0, a), min(size, b)
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def find_credentials(data: bytes, lowered_hits: list[tuple[bytes, int]], binary: bool = False) -> list[Hit]:
    """Every well-known credential in `data`; a span claimed by an earlier (more specific) format
    is not claimed again (a GCP service-account key is not also reported as a bare private key).
    `lowered_hits`: lower_anchors() found in the lower-cased piece, shared with the guesses.
    `binary`: the bytes beside a constant are length and type tags (a `.pyc`), not text, so a
    key's edges are not checked against them."""
    anchors, exact, context = _plan()
    near: dict[str, list[tuple[int, int]]] = {}
    for table, found in ((exact, anchors.find(data)), (context, lowered_hits)):
        for kw, at in found:
            for fmt, back, ahead in table.get(kw, ()):
                near.setdefault(fmt.rule, []).append((at - back, at + ahead))
    if not near:
        return []
    hits: list[Hit] = []
    for fmt in formats():
        spans = near.get(fmt.rule)
        for a, b in _windows(spans, len(data)) if spans else ():
            for m in (fmt.loose_bytes_regex if binary else fmt.bytes_regex).finditer(data, a, b):
                if any(h.start < m.end() and m.start() < h.end for h in hits):
                    continue
                hit = _judge(fmt, m)
                if hit is not None:
                    hits.append(hit)
    return hits


def _judge(fmt: CredentialFormat, m: re.Match[bytes]) -> Hit | None:
    """The hit, ranked; None when the match is not a credential after all (a PEM header in code)."""
    secret = (m.group(1) if m.re.groups else m.group(0)).decode("latin-1")
    start, end = m.start(), m.end()
    if fmt.rule in ("database-url", "url-password"):
        whole = m.group(0).decode("latin-1")
        user = whole.split("://", 1)[1].rsplit(":", 1)[0] if "://" in whole else ""
        host = whole.rsplit("@", 1)[1]
        if is_placeholder_password(user.rsplit(":", 1)[0], secret, host):
            return Hit(fmt.rule, start, end, secret, True, "a placeholder or local development password")
        return Hit(fmt.rule, start, end, secret)
    if fmt.rule in ("private-key", "gcp-service-account-key"):
        body = _pem_body(secret)
        if body is None:
            return None
        if len(set(body)) <= 4 or is_placeholder(body):
            return Hit(fmt.rule, start, end, secret, True, "a placeholder key body")
        return Hit(fmt.rule, start, end, secret)
    if fmt.rule == "jwt":
        return _judge_jwt(fmt, secret, start, end)
    if fmt.rank == "low":
        return Hit(fmt.rule, start, end, secret, True, "a test-mode key")
    prefix = len(fmt.keywords[0]) if secret.startswith(fmt.keywords[0]) else 0
    if is_placeholder(secret, prefix):
        return Hit(fmt.rule, start, end, secret, True, "an example or placeholder value")
    return Hit(fmt.rule, start, end, secret)


_PEM_LINE = re.compile(r"\\r|\\n|\s")


def _pem_body(pem: str) -> str | None:
    """The base64 body of a PEM block, or None when there is none (header text in a crypto library)."""
    inner = pem.split("-----", 2)[-1].rsplit("-----END", 1)[0]
    lines = [ln for ln in _PEM_LINE.split(inner) if ln and ":" not in ln and "," not in ln]
    body = "".join(lines)
    if len(body) < 64 or not re.fullmatch(r"[A-Za-z0-9+/=]+", body):
        return None
    return body


def _judge_jwt(fmt: CredentialFormat, token: str, start: int, end: int) -> Hit | None:
    header, payload = (_b64json(p) for p in token.split(".")[:2])
    if header is None or payload is None or not any(k in header for k in ("alg", "typ", "kid")):
        return None
    if payload.get("sub") == "1234567890" or payload.get("name") == "John Doe":
        return Hit(fmt.rule, start, end, token, True, "the jwt.io example token")
    if payload.get("role") == "anon":
        return Hit(fmt.rule, start, end, token, True, "an anonymous-role key, public by design")
    return Hit(fmt.rule, start, end, token)


def _b64json(part: str) -> dict[str, object] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None

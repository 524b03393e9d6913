"""High-entropy values assigned to secret-like names: `password = "…"`, `api_key: …`, `"secret": "…"`.

A guess, so it ranks below every well-known format and says so. The piece is lower-cased once
and searched for the names' keywords; the assignment regex runs only around those hits. What is
plainly not a secret is skipped: template variables and environment lookups, hashes beside
`sha`/`integrity`, image data, words and identifiers, names that describe a secret rather than
hold one (`token_url`, `password_field`).
"""

from __future__ import annotations

import re

from ketch.audit.checks.hit import Hit
from ketch.audit.checks.placeholders import entropy, is_placeholder

_KEYWORDS = (b"passw", b"pwd", b"secret", b"token", b"api_key", b"apikey", b"api-key",
             b"access_key", b"accesskey", b"private_key", b"privatekey", b"credential", b"auth_key")
# The lookahead is implied by the rest (a name is a run of at most 81 name characters, and what
# follows it is a quote, `]`, a space, `=` or `:`): it changes no match, but most places in a span
# fail it at once instead of trying every keyword at each of forty lengths.
_NAME = (r"(?<![A-Za-z0-9_])(?=[A-Za-z0-9_.\-]{1,81}[\"'`\]\s=:])([A-Za-z0-9_.\-]{0,40}?(?i:passw(?:or)?d|passphrase|pwd|secret|token|api[_\-]?key|"
         r"access[_\-]?key|private[_\-]?key|credentials?|auth[_\-]?key)[A-Za-z0-9_\-]{0,30})")
_ASSIGN = re.compile(
    (_NAME + r"[\"'`]?\]?\s*(?:=>|:=|[:=](?!=))\s*"
     r"(?:([\"'`])([^\"'`\s\\]{8,200})\2|([^\s\"'`,;(){}\[\]<>]{8,200})[ \t]*(?=#|\r?$))").encode(),
    re.MULTILINE,
)
# Name parts that describe a secret rather than hold one.
_NOT_SECRET_NAME = re.compile(
    r"(?:^|_)(?:url|uri|endpoint|path|file|name|type|field|label|id|ids|length|len|count|header|env|var|prompt|"
    r"placeholder|hint|message|msg|regex|pattern|policy|min|max|size|expires?|expiry|ttl|cache|store|dir|key_id|"
    r"hash|sha|digest|checksum|integrity|mode|method|format|prefix|suffix|param|input|reset|required|limit|"
    r"storage|class|selector|provider|source|version|kind|status|state|valid|error|text|title)$"
)
_NOT_SECRET_VALUE = ("process.env", "os.environ", "getenv", "env[", "${", "{{", "%(", "<%", "data:", "http:",
                     "https:", "file:", "sha1-", "sha256-", "sha384-", "sha512-", "iVBORw0KGgo", "/9j/", "R0lGOD",
                     "PHN2Zy", "vault:", "arn:", "ref+", "secretsmanager", "__")
_WORDS = re.compile(r"[A-Za-z]+(?:[._\-/: ][A-Za-z]+)*|[a-z]+(?:[A-Z][a-z]*)+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_BACK, _AHEAD = 72, 260


def keywords() -> list[bytes]:
    return list(_KEYWORDS)


def find_guesses(data: bytes, lowered_hits: list[tuple[bytes, int]]) -> list[Hit]:
    """Secret-like assignments in text; `low` for short or weak values. `lowered_hits`: the anchor
    scan of the lower-cased piece (secrets.py), of which the names' keywords are used here.
    Binary data is skipped (a `.pyc` keeps names and constants apart: no assignment is visible)."""
    if b"\x00" in data[:4096]:
        return []
    spans = [(max(0, i - _BACK), min(len(data), i + _AHEAD)) for kw, i in lowered_hits if kw in _KEYWORDS]
    spans.sort()
    hits: list[Hit] = []
    last = -1
    for a, b in _merge(spans):
        for m in _ASSIGN.finditer(data, a, b):
            if m.start() < last:
                continue
            last = m.end()
            hit = _judge(m)
            if hit is not None:
                hits.append(hit)
    return hits


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _judge(m: re.Match[bytes]) -> Hit | None:
    name = m.group(1).decode("latin-1")
    raw = m.group(3) if m.group(3) is not None else m.group(4)
    value = raw.decode("latin-1")
    words = _CAMEL.sub("_", name.rsplit(".", 1)[-1]).lower().replace("-", "_")
    if _NOT_SECRET_NAME.search(words) or any(v in value for v in _NOT_SECRET_VALUE):
        return None
    if value.startswith(("$", "/", "./", "@", "&", "*", "%{")) or _WORDS.fullmatch(value) and entropy(value) < 4.0:
        return None
    bits = entropy(value)
    start = m.start(3) if m.group(3) is not None else m.start(4)
    hit_end = start + len(raw)
    if is_placeholder(value) or len(set(value)) <= 3:
        return Hit("secret-guess", start, hit_end, value, True, "a placeholder value", name)
    if _UUID.fullmatch(value):
        return Hit("secret-guess", start, hit_end, value, True, "a UUID: often an id, sometimes a key", name)
    if _HEX.fullmatch(value) and len(value) in (32, 40, 64, 128) and "secret" not in words and "key" not in words:
        return None  # a digest under a name like `token_hash` or a cache token
    classes = sum(bool(re.search(p, value)) for p in ("[a-z]", "[A-Z]", "[0-9]", "[^A-Za-z0-9]"))
    if len(value) >= 16 and bits >= 3.5 and classes >= 2:
        return Hit("secret-guess", start, hit_end, value, name=name)
    if bits >= 2.5:
        return Hit("secret-guess", start, hit_end, value, True, "short or low-entropy: perhaps not a secret", name)
    return None

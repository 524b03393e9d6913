"""Files that should not ship (.env, .npmrc, .git/, agent files, backups...) and links that leave the artifact.

Mostly a matter of paths (hygienerules.py); contents only raise or confirm a severity: an .npmrc
with `_authToken=` is worse than one naming a registry, a CLAUDE.md of 15 KB says more than one
line, a file named `core` is a core dump only if its bytes are. Credentials inside these files
are the secrets check's findings; this one says the file should not be there at all.

One finding per rule, listing its paths in facts["paths"] (fixes.py turns them into exclusion
lines), except version-control folders: one per folder, with its file count, never one per object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ketch.audit.checks import sniff
from ketch.audit.checks.hygienerules import RULES, classify, split
from ketch.audit.model import ArtifactInfo, Entry, Finding, Kind, Piece, Severity

MAX_PATHS = 1000      # paths kept per rule; the count goes on
AGENT_BYTES = 1024    # an agent file over this says enough to matter
_ENV_VALUE = re.compile(rb"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*=[ \t]*['\"]?[^\s'\"#]")
_CREDENTIAL_MARKERS = (b"_authtoken", b"_auth=", b"_auth =", b"password", b"npmauthtoken", b"_password")
_INSTRUCTION_MARKERS = (b"must", b"never", b"always", b"do not", b"don't", b"important", b"should",
                        b"instruction", b"prefer", b"avoid", b"run ", b"use ")
_KEY_STORES = (".p12", ".pfx", ".jks", ".keystore")
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:/)")


@dataclass
class _Item:
    severity: Severity
    files: int = 0
    bytes: int = 0
    confirmed: bool = True     # False for a `core` name until its bytes say ELF core / minidump
    instructions: bool = False


@dataclass
class _Links:
    pairs: list[tuple[str, str]] = field(default_factory=list)
    count: int = 0


class HygieneCheck:
    """Kind.SHOULD_NOT_SHIP by path rule, and Kind.ARCHIVE for links whose target leaves the artifact."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], _Item] = {}
        self._want: dict[str, tuple[str, str]] = {}   # member path → the item its bytes may change
        self._links = _Links()

    def entry(self, entry: Entry, info: ArtifactInfo) -> None:
        if entry.link is not None:
            if _escapes(entry, info.ecosystem):
                self._links.count += 1
                if len(self._links.pairs) < MAX_PATHS:
                    self._links.pairs.append((entry.path, entry.link))
            return
        hit = classify(entry.path, info.ecosystem)
        if hit is None:
            return
        rule, item_path = hit
        item = self._items.get(hit)
        if item is None:
            item = self._items[hit] = _Item(_first_severity(rule, item_path, entry))
            item.confirmed = rule != "core-dump"
        item.files += 1
        item.bytes += entry.size
        if rule in ("env-file", "credential-config", "agent-files", "key-file", "core-dump"):
            self._want[entry.path] = hit

    def visit(self, piece: Piece, info: ArtifactInfo) -> list[Piece] | None:
        if piece.origin or not piece.first:
            return None
        hit = self._want.pop(piece.path, None)
        if hit is None:
            if piece.data[:4] in (b"\x7fELF", b"MDMP") and sniff.is_core_dump(piece.data):
                self._items.setdefault(("core-dump", piece.path), _Item(Severity.MEDIUM, 1, piece.size))
            return None
        rule, _ = hit
        item = self._items[hit]
        head = piece.data[:1 << 20]
        if _holds_secrets(rule, head):
            item.severity = Severity.HIGH
        elif rule == "key-file" and b"-----BEGIN CERTIFICATE-----" in head and item.severity <= Severity.LOW:
            item.severity = Severity.INFO  # certificates only (a CA bundle such as certifi's): public by design
        elif rule == "agent-files" and any(m in head.lower() for m in _INSTRUCTION_MARKERS):
            item.instructions = True
        elif rule == "core-dump":
            item.confirmed = item.confirmed or sniff.is_core_dump(head)
        return None

    def finish(self, info: ArtifactInfo) -> list[Finding]:
        by_rule: dict[str, list[tuple[str, _Item]]] = {}
        for (rule_id, path), item in self._items.items():
            if not item.confirmed:
                continue
            if rule_id == "agent-files" and (item.bytes > AGENT_BYTES or item.instructions):
                item.severity = max(item.severity, Severity.MEDIUM)
            by_rule.setdefault(rule_id, []).append((path, item))
        out: list[Finding] = []
        for rule_id, items in by_rule.items():
            items.sort(key=lambda pi: pi[0])
            groups = [[i] for i in items] if RULES[rule_id].per_item else [items]
            out.extend(_finding(rule_id, group) for group in groups)
        if self._links.count:
            out.append(self._links_finding())
        return out

    def _links_finding(self) -> Finding:
        rule = RULES["link-outside"]
        path, target = self._links.pairs[0]
        title = (f"a link to {target} leaves the artifact" if self._links.count == 1
                 else f"{self._links.count} links leave the artifact")
        return Finding(Kind.ARCHIVE, rule.severity, title, path=path, evidence=f"{path} -> {target}",
                       enables=rule.enables, fix=rule.fix, rule="archive/link-outside",
                       facts={"paths": [p for p, _ in self._links.pairs], "count": self._links.count,
                              "links": [{"path": p, "target": t} for p, t in self._links.pairs]})


def _holds_secrets(rule: str, head: bytes) -> bool:
    if rule == "env-file":
        return _ENV_VALUE.search(head) is not None
    if rule == "credential-config":
        return any(m in head.lower() for m in _CREDENTIAL_MARKERS)
    return rule == "key-file" and b"PRIVATE KEY" in head


def _first_severity(rule: str, item_path: str, entry: Entry) -> Severity:
    """The severity the path alone earns; contents may raise it in visit."""
    low = item_path.lower()
    if rule == "env-file":
        return Severity.MEDIUM  # HIGH once a line assigns a value
    if rule == "credential-config" and low.endswith(".git-credentials"):
        return Severity.HIGH
    if rule == "key-file":
        if low.endswith(_KEY_STORES) and entry.size > 0:
            return Severity.HIGH  # a PKCS#12 or Java key store holds keys by definition
        return Severity.MEDIUM if split(low)[1][-1].startswith("id_") else Severity.LOW
    return RULES[rule].severity


def _finding(rule_id: str, group: list[tuple[str, _Item]]) -> Finding:
    rule = RULES[rule_id]
    paths = [p for p, _ in group]
    files = sum(i.files for _, i in group)
    size = sum(i.bytes for _, i in group)
    severity = max(i.severity for _, i in group)
    if rule.per_item:
        title = f"{rule.title} ships: {paths[0]} ({files} file{'s' if files != 1 else ''})"
    elif len(paths) == 1:
        title = f"{rule.title}: {paths[0]}"
    else:
        title = f"{rule.title}: {len(paths)} paths"
    return Finding(Kind.SHOULD_NOT_SHIP, severity, title, path=paths[0], enables=rule.enables, fix=rule.fix,
                   rule=f"should-not-ship/{rule_id}",
                   facts={"paths": paths[:MAX_PATHS], "count": len(paths), "files": files, "bytes": size})


def _escapes(entry: Entry, ecosystem: str) -> bool:
    """Whether a link's target leaves the artifact: absolute, or `..` past the root of its level.

    A symlink resolves from its own folder; a tar hardlink names a member from the archive root.
    In an npm tarball or an sdist the root is the top folder (`package/`, `name-1.0/`): that is
    what the installer unpacks, so `package/x -> ../y` already points outside the package.
    """
    target = (entry.link or "").replace("\\", "/")
    if _ABSOLUTE.match(target):
        return True
    _, segs = split(entry.path.rstrip("/"))
    root = 1 if ecosystem in ("npm", "python-sdist") and len(segs) > 1 else 0
    depth = 0 if entry.hardlink else max(len(segs) - 1, 0)
    for seg in target.split("/"):
        if seg == "..":
            depth -= 1
            if depth < root:
                return True
        elif seg not in ("", "."):
            depth += 1
    return False

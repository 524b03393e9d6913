"""One artifact in, one Report out: the readers stream members, every check sees every piece.

`audit_path` is a pure function of the artifact and the options (no network, no printing, no
state kept between calls), so `--many` can hand artifacts to every core, and later to a cluster.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketch.audit import metadata
from ketch.audit.archives import Limits
from ketch.audit.model import ArtifactInfo, Check, Entry, Finding, Piece


@dataclass(frozen=True)
class Ignore:
    """A finding the team has judged and accepts (weights meant to ship, a test key): rule and path globs."""

    rule: str = "*"
    path: str = "*"

    def matches(self, finding: Finding) -> bool:
        return fnmatch.fnmatchcase(finding.rule, self.rule) and fnmatch.fnmatchcase(finding.path, self.path)


@dataclass(frozen=True)
class AuditOptions:
    public_flags: frozenset[str] = frozenset()
    ignore: tuple[Ignore, ...] = ()
    history: bool = False
    limits: Limits = field(default_factory=Limits)


@dataclass
class Report:
    """What one artifact discloses. `inventory` (path → size) and the findings' facts are what
    `--against` compares; `summary` holds what checks say when they found nothing to report
    ("no model weights")."""

    target: str
    info: ArtifactInfo
    findings: list[Finding]
    files: int = 0
    bytes: int = 0
    inventory: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    ignored: int = 0
    seconds: float = 0.0


def default_checks(options: AuditOptions) -> list[Check]:
    from ketch.audit.checks.flags import FlagCheck
    from ketch.audit.checks.hygiene import HygieneCheck
    from ketch.audit.checks.internal import InternalCheck
    from ketch.audit.checks.secrets import SecretsCheck
    from ketch.audit.checks.sourcemaps import SourceMapCheck
    from ketch.audit.checks.weights import WeightsCheck

    # The source-map check goes first: the sources it decodes reach every check after it.
    return [SourceMapCheck(), SecretsCheck(), FlagCheck(public=options.public_flags), InternalCheck(),
            WeightsCheck(), HygieneCheck()]


class Scanner:
    """The readers' Sink: hands entries and pieces to the checks, keeps the inventory."""

    def __init__(self, info: ArtifactInfo, checks: list[Check]) -> None:
        self.info = info
        self.checks = checks
        self.problems: list[Finding] = []
        self.inventory: dict[str, int] = {}

    def entry(self, entry: Entry) -> None:
        self.inventory[entry.path] = entry.size
        for check in self.checks:
            check.entry(entry, self.info)

    def piece(self, piece: Piece) -> None:
        derived: list[Piece] = []
        current = piece
        for check in self.checks:
            more = check.visit(current, self.info)
            for extra in more or ():
                if extra.path == piece.path and not extra.origin:
                    current = extra  # a check's reading of the piece replaces it for the checks after it
                else:
                    derived.append(extra)
        for extra in derived:  # one level only: a map inside a map's sources is not decoded again
            for check in self.checks:
                check.visit(extra, self.info)

    def problem(self, finding: Finding) -> None:
        self.problems.append(finding)

    def metadata(self, path: str, data: bytes) -> None:
        metadata.note(self.info, path, data)


def audit_path(target: Path, options: AuditOptions, *, name: str = "", checks: list[Check] | None = None) -> Report:
    """Audit one artifact on disk (a file or a folder). AuditError if it cannot be read at all."""
    from ketch.audit.fixes import with_fixes
    from ketch.audit.readers import read_target

    started = time.perf_counter()
    info = ArtifactInfo(name=name or target.name or str(target))
    checks = default_checks(options) if checks is None else checks
    scanner = Scanner(info, checks)
    read_target(target, scanner, info, options.limits, history=options.history)
    findings = list(scanner.problems)
    summary: dict[str, Any] = {}
    for check in checks:
        findings.extend(check.finish(info))
        summarize = getattr(check, "summary", None)
        if callable(summarize):
            summary.update(summarize())
    kept = [f for f in findings if not any(rule.matches(f) for rule in options.ignore)]
    kept = sorted((with_fixes(f, info) for f in kept), key=Finding.sort_key)
    files = sum(1 for _ in scanner.inventory)
    return Report(target=name or str(target), info=info, findings=kept, files=files,
                  bytes=sum(scanner.inventory.values()), inventory=scanner.inventory, summary=summary,
                  ignored=len(findings) - len(kept), seconds=time.perf_counter() - started)

"""`--against`: what a release adds to the one before it — the cheapest detector of a 2.1.88.

Claude Code 2.1.88 differed from 2.1.87 by one new 57 MB `cli.js.map`. A team that compares
each release with the last sees that on one line, whatever the rules know: files added, the size
jump, new maps, new flag names, and findings the last release did not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ketch.audit.model import Finding, Kind, Severity

if TYPE_CHECKING:
    from ketch.audit.scan import Report

_VERSIONED_ROOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*?-\d[^/!]*/")
_WHEEL_DIRS = re.compile(r"^([^/]+)-[^/-]+\.(dist-info|data)/")


@dataclass
class Change:
    before: str
    after: str
    added: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    bytes_before: int = 0
    bytes_after: int = 0
    new_maps: dict[str, int] = field(default_factory=dict)
    new_names: list[str] = field(default_factory=list)
    new_findings: list[Finding] = field(default_factory=list)

    @property
    def growth(self) -> float:
        return self.bytes_after / self.bytes_before if self.bytes_before else float("inf")


def compare(before: Report, after: Report) -> Change:
    old = {_same_place(p): s for p, s in before.inventory.items()}
    new = {_same_place(p): s for p, s in after.inventory.items()}
    change = Change(before.target, after.target, bytes_before=before.bytes, bytes_after=after.bytes)
    change.added = {p: s for p, s in new.items() if p not in old}
    change.removed = {p: s for p, s in old.items() if p not in new}
    change.new_maps = {p: s for p, s in change.added.items() if p.endswith(".map")}
    change.new_names = sorted(_names(after) - _names(before))
    seen = {(f.rule, _same_place(f.path)) for f in before.findings}
    change.new_findings = [f for f in after.findings if (f.rule, _same_place(f.path)) not in seen]
    return change


def findings_of(change: Change) -> list[Finding]:
    """What the comparison itself says, as findings that count toward `--fail-on`."""
    found: list[Finding] = []
    if change.new_maps:
        total = sum(change.new_maps.values())
        found.append(Finding(Kind.SOURCE, Severity.HIGH, f"{_plural(len(change.new_maps), 'source map')} new since "
                             f"{change.before} ({total:,} bytes)", path=next(iter(change.new_maps)),
                             enables="the release may carry original source the last one did not",
                             fix="compare `npm pack --dry-run` output with the last release before publishing",
                             rule="diff/new-source-map", facts={"paths": sorted(change.new_maps)}))
    if change.new_names:
        found.append(Finding(Kind.ROADMAP, Severity.MEDIUM, f"{_plural(len(change.new_names), 'flag name')} new since "
                             f"{change.before}", evidence=", ".join(change.new_names[:20]),
                             rule="diff/new-flag-names", facts={"names": change.new_names}))
    if change.bytes_before and change.growth >= 2 and change.bytes_after - change.bytes_before > 1_000_000:
        found.append(Finding(Kind.LARGE_BINARY, Severity.MEDIUM,
                             f"{change.growth:.1f}× the size of {change.before} "
                             f"({change.bytes_before:,} → {change.bytes_after:,} bytes)",
                             enables="a jump like this is how a map, a model or a build folder slips in",
                             rule="diff/size-jump", facts={"paths": sorted(change.added, key=change.added.__getitem__,
                                                                            reverse=True)[:10]}))
    return found


def describe(change: Change) -> list[str]:
    lines = [f"{_plural(len(change.added), 'file')} added, {len(change.removed)} removed; size {change.bytes_before:,} → "
             f"{change.bytes_after:,} bytes" + (f" ({change.growth:.1f}×)" if change.bytes_before else "")]
    for path, size in sorted(change.added.items(), key=lambda kv: -kv[1])[:10]:
        lines.append(f"+ {path} ({size:,} bytes)")
    if change.new_maps:
        lines.append(f"new source maps: {', '.join(sorted(change.new_maps)[:10])}")
    if change.new_names:
        lines.append(f"new flag names: {', '.join(change.new_names[:30])}")
    for f in change.new_findings[:20]:
        lines.append(f"new finding: {f.severity.label} {f.title} {f.path}".rstrip())
    return lines


def change_dict(change: Change) -> dict[str, Any]:
    return {"before": change.before, "after": change.after, "added": change.added, "removed": change.removed,
            "bytes_before": change.bytes_before, "bytes_after": change.bytes_after, "new_maps": change.new_maps,
            "new_flag_names": change.new_names, "new_findings": [f"{f.rule} {f.path}" for f in change.new_findings]}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _same_place(path: str) -> str:
    """A path with its version taken out (`pkg-1.2.0/x` and `pkg-1.3.0/x` are the same file)."""
    path = _VERSIONED_ROOT.sub("", path, count=1)
    return _WHEEL_DIRS.sub(r"\1.\2/", path, count=1)


def _names(report: Report) -> set[str]:
    names: set[str] = set()
    for f in report.findings:
        if f.kind is Kind.ROADMAP and not f.rule.startswith("diff/"):
            names.update(n for n in f.facts.get("names", []) if isinstance(n, str))
    return names

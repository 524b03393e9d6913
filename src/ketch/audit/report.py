"""Saying what leaked, in proportion: one plain paragraph first, then findings by consequence.

"Original source of 1,906 files, 512,430 lines: an implementation reference. 88 unreleased flag
names. No model weights. No credentials in known formats." — what leaked, and as plainly what did
not, because a team deciding whether to unpublish needs both. Terminal output is built from rich
Text objects, never markup, so a hostile member name cannot restyle or rewrite the report.
"""

from __future__ import annotations

from collections import Counter
from typing import IO, TYPE_CHECKING

from ketch.audit.model import Finding, Kind, Severity

if TYPE_CHECKING:
    from ketch.audit.diff import Change
    from ketch.audit.scan import Report

_COLOURS = {Severity.CRITICAL: "bold white on red", Severity.HIGH: "bold red", Severity.MEDIUM: "yellow",
            Severity.LOW: "cyan", Severity.INFO: "dim"}


def headline(report: Report) -> str:
    """The paragraph that says what leaked and what did not."""
    found = report.findings
    said: list[str] = []
    weights = [f for f in found if f.kind is Kind.WEIGHTS]
    if weights:
        said.append(f"Model weights: {_plural(len(weights), 'file')} ({weights[0].title}"
                    + (", …" if len(weights) > 1 else "") + ").")
    live = [f for f in found if f.kind is Kind.CREDENTIAL and f.severity >= Severity.HIGH]
    if live:
        names = sorted({f.title for f in live})
        said.append(f"{_plural(len(live), 'credential')} in a live format ({', '.join(names[:4])}"
                    + (", …" if len(names) > 4 else "") + "): rotate before anything else.")
    source = _source_totals(found)
    if source:
        files, lines = source
        said.append(f"Original source of {_plural(files, 'file')}, {_plural(lines, 'line')}: an implementation reference.")
    flag_names = _unreleased_names(found)
    if flag_names:
        only_maps = any(f.severity >= Severity.MEDIUM for f in found if f.kind is Kind.ROADMAP)
        said.append(f"{_plural(flag_names, 'flag name')}" + (" present only inside source maps (the roadmap)."
                                                       if only_maps else " in shipped code not declared public."))
    if not weights:
        said.append("No model weights.")
    if not live:
        low = [f for f in found if f.kind in (Kind.CREDENTIAL, Kind.SECRET_GUESS)]
        said.append("No credentials in known formats" + (f" ({_plural(len(low), 'lower-confidence secret')})."
                                                          if low else "."))
    if not source:
        said.append("No original source in source maps.")
    hygiene = [f for f in found if f.kind is Kind.SHOULD_NOT_SHIP]
    if hygiene:
        said.append(f"{_plural(len(hygiene), 'kind')} of file that should not ship.")
    return " ".join(said)


def counts(findings: list[Finding]) -> dict[str, int]:
    got = Counter(f.severity for f in findings)
    return {s.label: got.get(s, 0) for s in sorted(Severity, reverse=True)}


def render_terminal(reports: list[Report], changes: list[Change], out: IO[str], *, colour: bool,
                    show_below: Severity = Severity.INFO) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, force_terminal=colour, no_color=not colour, highlight=False, soft_wrap=True,
                      width=max(80, Console(file=out).width))
    for report in reports:
        info = report.info
        title = Text("ketch audit ", style="bold")
        title.append(_printable(report.target))
        title.append(f"  ({info.ecosystem}{', ' + _printable(info.name) if info.name else ''}"
                     f"{' ' + _printable(info.version) if info.version else ''}; {report.files:,} files, "
                     f"{_size(report.bytes)}, {report.seconds:.1f} s)", style="dim")
        console.print(title)
        console.print(Text(_printable(headline(report))))
        shown = [f for f in report.findings if f.severity >= show_below]
        for kind in sorted({f.kind for f in shown}):
            group = [f for f in shown if f.kind is kind]
            console.print(Text(f"\n{kind.label} ({len(group)})", style="bold underline"))
            for finding in group:
                console.print(_finding_text(finding))
        tally = counts(report.findings)
        console.print(Text("\n" + ", ".join(f"{n} {label}" for label, n in tally.items() if n) if any(tally.values())
                           else "\nnothing to report", style="bold"))
        if report.ignored:
            console.print(Text(f"{_plural(report.ignored, 'finding')} ignored by the audit config", style="dim"))
    for change in changes:
        from ketch.audit.diff import describe

        console.print(Text("\nsince " + _printable(change.before), style="bold underline"))
        for line in describe(change):
            console.print(Text("  " + _printable(line)))


def _finding_text(finding: Finding) -> object:
    from rich.text import Text

    text = Text("  ")
    text.append(f" {finding.severity.label} ", style=_COLOURS[finding.severity])
    text.append(" " + _printable(finding.title))
    if finding.path:
        where = finding.path + (f":{finding.line}" if finding.line else "")
        text.append("\n      " + _printable(where), style="dim")
    for label, value in (("", finding.evidence), ("enables: ", finding.enables), ("fix: ", finding.fix)):
        if value:
            text.append(f"\n      {label}{_printable(value)}")
    return text


def _source_totals(findings: list[Finding]) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for f in findings:
        if f.kind is Kind.SOURCE and "lines" in f.facts and "files" in f.facts:
            files, lines = int(f.facts["files"]), int(f.facts["lines"])
            if best is None or files > best[0]:
                best = (files, lines)
    return best


def _unreleased_names(findings: list[Finding]) -> int:
    names: set[str] = set()
    for f in findings:
        if f.kind is Kind.ROADMAP:
            names.update(n for n in f.facts.get("names", []) if isinstance(n, str))
    return len(names)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:,.1f} {unit}"


def _printable(text: str) -> str:
    """One line of the report: control characters visible, and newlines too, since every field
    here is one line and a name from the artifact with `\\n` would print lines of its choosing."""
    from ketch.terminal_text import printable

    return printable(text).replace("\n", "\\n")

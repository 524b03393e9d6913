"""The machine and document formats of a report: JSON, Markdown and SARIF 2.1.0 (code-scanning UIs).

Every format carries the same findings in the same order; none carries a whole secret (checks
mask evidence before a Finding exists).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ketch.audit.model import Finding, Severity
from ketch.audit.report import counts, headline

if TYPE_CHECKING:
    from ketch.audit.diff import Change
    from ketch.audit.scan import Report

_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
                Severity.LOW: "note", Severity.INFO: "note"}
# GitHub code scanning ranks security results by this property (0.0-10.0).
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                      Severity.LOW: "2.0", Severity.INFO: "0.0"}


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {"severity": finding.severity.label, "kind": finding.kind.label, "rule": finding.rule,
            "title": finding.title, "path": finding.path, "line": finding.line, "evidence": finding.evidence,
            "enables": finding.enables, "fix": finding.fix, "facts": finding.facts}


def report_dict(report: Report) -> dict[str, Any]:
    info = report.info
    return {"target": report.target, "ecosystem": info.ecosystem, "name": info.name, "version": info.version,
            "license": info.license, "repository": info.repository, "files": report.files, "bytes": report.bytes,
            "seconds": round(report.seconds, 3), "summary": headline(report), "counts": counts(report.findings),
            "ignored": report.ignored, "checks": report.summary,
            "findings": [finding_dict(f) for f in report.findings]}


def to_json(reports: list[Report], changes: list[Change]) -> str:
    from ketch.audit.diff import change_dict

    doc: dict[str, Any] = {"reports": [report_dict(r) for r in reports]}
    if changes:
        doc["changes"] = [change_dict(c) for c in changes]
    return _json(doc, default=str)


def to_markdown(reports: list[Report], changes: list[Change]) -> str:
    from ketch.audit.diff import describe

    out: list[str] = []
    for report in reports:
        info = report.info
        out.append(f"# ketch audit: {_md(report.target)}\n")
        out.append(f"{info.ecosystem}{' · ' + _md(info.name) if info.name else ''}"
                   f"{' ' + _md(info.version) if info.version else ''} · {report.files:,} files · "
                   f"{report.bytes:,} bytes\n")
        out.append(f"**{_md(headline(report))}**\n")
        tally = counts(report.findings)
        out.append("| " + " | ".join(tally) + " |\n|" + "---|" * len(tally) + "\n| "
                   + " | ".join(str(n) for n in tally.values()) + " |\n")
        for f in report.findings:
            where = f" — `{_code(f.path)}{':' + str(f.line) if f.line else ''}`" if f.path else ""
            out.append(f"- **{f.severity.label}** · {f.kind.label} · {_md(f.title)}{where}")
            for label, value in (("evidence", f.evidence), ("enables", f.enables), ("fix", f.fix)):
                if value:
                    out.append(f"  - {label}: {_md(value)}")
        out.append("")
    for change in changes:
        out.append(f"## Since {_md(change.before)}\n")
        out.extend(f"- {_md(line)}" for line in describe(change))
        out.append("")
    return "\n".join(out) + "\n"


def to_sarif(reports: list[Report]) -> str:
    from ketch import __version__

    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for report in reports:
        for f in report.findings:
            rule_id = f.rule or f.kind.label
            rules.setdefault(rule_id, {
                "id": rule_id, "name": rule_id.replace("/", "-"),
                "shortDescription": {"text": f.kind.label + ": " + rule_id},
                "defaultConfiguration": {"level": _SARIF_LEVEL[f.severity]},
                "properties": {"security-severity": _SECURITY_SEVERITY[f.severity], "tags": ["security", f.kind.label]},
            })
            message = f.title + (f". Enables: {f.enables}" if f.enables else "") + (f". Fix: {f.fix}" if f.fix else "")
            location: dict[str, Any] = {"artifactLocation": {"uri": _uri(report.target, f.path)}}
            if f.line:
                location["region"] = {"startLine": f.line}
            results.append({"ruleId": rule_id, "level": _SARIF_LEVEL[f.severity], "message": {"text": message},
                            "locations": [{"physicalLocation": location}],
                            "properties": {"severity": f.severity.label, "kind": f.kind.label,
                                           "evidence": f.evidence}})
    doc = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "ketch audit", "version": __version__,
                                         "informationUri": "https://github.com/ketch-dev/ketch",
                                         "rules": list(rules.values())}},
                     "results": results}]}
    return _json(doc)


def _json(doc: object, default: Any = None) -> str:
    """JSON a terminal may show: names from the artifact carry C1 codes, bidi overrides and lone
    surrogates that json.dumps leaves raw (the last would crash the write)."""
    from ketch.terminal_text import json_safe

    return json_safe(json.dumps(doc, indent=2, ensure_ascii=False, default=default)) + "\n"


def _uri(target: str, path: str) -> str:
    from urllib.parse import quote

    inner = path or target
    return quote(inner.replace("!/", "/"), safe="/:@-._~")


def _md(text: str) -> str:
    """Text from the artifact as plain markdown: a name such as `[docs](https://evil.example)` or
    `![x](https://evil.example/pixel)` would be a live link or an image fetched by every reader of
    the pull request it is pasted into; emphasis, code and HTML are escaped the same way."""
    import re

    from ketch.terminal_text import printable

    escaped = re.sub(r"([\\`*_\[\]!|#~])", r"\\\1", printable(text))
    return escaped.replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _code(text: str) -> str:
    from ketch.terminal_text import printable

    return printable(text).replace("`", "'").replace("\n", " ")

"""Precision and recall of `ketch audit` per kind of finding, over the labelled artifacts: the
issue's fixtures (each must produce its kinds above low) and real clean npm and PyPI packages
(none may produce anything above low)."""

from __future__ import annotations

from pathlib import Path

from audit_labelled import KINDS, labelled, score

from ketch.audit.model import Severity
from ketch.audit.scan import AuditOptions, audit_path


def test_every_kind_is_found_where_labelled_and_nowhere_else(tmp_path: Path) -> None:
    rows = []
    for label, path, want in labelled(tmp_path):
        report = audit_path(path, AuditOptions())
        got = {f.kind.label for f in report.findings if f.severity > Severity.LOW}
        rows.append((label, want, got))
    wrong = [(label, sorted(want), sorted(got)) for label, want, got in rows if want != got]
    assert wrong == []
    table = score(rows)
    assert all(fp == 0 and fn == 0 for tp, fp, fn in table.values())
    assert sum(tp for tp, _, _ in table.values()) == sum(len(want) for _, want, _ in rows)
    assert set(table) == set(KINDS)

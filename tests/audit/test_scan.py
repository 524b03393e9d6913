"""The unit of work: one artifact in, one Report out — pure, offline, picklable (for --many)."""

from __future__ import annotations

import pickle
import socket
from pathlib import Path

import audit_artifacts as art
import pytest

from ketch.audit.model import Kind, Severity
from ketch.audit.scan import AuditOptions, Ignore, audit_path


def test_an_audit_makes_no_network_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ketch audit tried to connect")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    report = audit_path(art.wheel_with_env(tmp_path), AuditOptions())
    assert any(f.kind is Kind.CREDENTIAL for f in report.findings)


def test_the_same_artifact_gives_the_same_report_and_it_pickles(tmp_path: Path) -> None:
    _, new = art.claude_like(tmp_path)
    first, second = audit_path(new, AuditOptions()), audit_path(new, AuditOptions())
    assert first.findings == second.findings and first.inventory == second.inventory
    again = pickle.loads(pickle.dumps(first))
    assert again.findings == first.findings and again.info == first.info


def test_findings_are_ordered_by_consequence(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    art.gguf_model(folder)
    (folder / ".env").write_text(f"AWS_ACCESS_KEY_ID={art.AWS_ID}\n")
    (folder / "notes.bak").write_text("old")
    report = audit_path(folder, AuditOptions())
    keys = [f.sort_key() for f in report.findings]
    assert keys == sorted(keys)
    assert report.findings[0].severity is Severity.CRITICAL
    assert [f.kind for f in report.findings if f.severity is Severity.CRITICAL][:2] == [Kind.WEIGHTS, Kind.CREDENTIAL]


def test_ignore_rules_match_rule_and_path_globs(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    art.gguf_model(folder)
    kept = audit_path(folder, AuditOptions(ignore=(Ignore(rule="weights/*", path="*.gguf"),)))
    assert not any(f.kind is Kind.WEIGHTS for f in kept.findings) and kept.ignored == 1
    other = audit_path(folder, AuditOptions(ignore=(Ignore(rule="weights/*", path="*.safetensors"),)))
    assert any(f.kind is Kind.WEIGHTS for f in other.findings) and other.ignored == 0

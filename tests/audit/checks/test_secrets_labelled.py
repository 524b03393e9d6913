"""Precision and recall of SecretsCheck on the labelled set (findings above low count)."""

from __future__ import annotations

import json
from pathlib import Path

from labelled_secrets import SOURCE, materialize, score, score_files

from ketch.audit.checks.secrets import SecretsCheck
from ketch.audit.model import ArtifactInfo, Piece, Severity


def found_by_ketch(folder: Path, labels: dict[str, list[str]]) -> dict[str, set[str]]:
    info = ArtifactInfo("labelled", ecosystem="folder")
    check = SecretsCheck()
    for name in labels:
        data = (folder / name).read_bytes()
        check.visit(Piece(name, data, 0, len(data), True), info)
    found: dict[str, set[str]] = {}
    for f in check.finish(info):
        if f.severity > Severity.LOW:
            for path in f.facts["paths"]:
                found.setdefault(path, set()).add(f.rule.split("/", 1)[1] if f.rule.startswith("credential/")
                                                  else "secret-guess")
    return found


def test_precision_and_recall_on_the_labelled_set(tmp_path: Path) -> None:
    labels = materialize(tmp_path)
    positives = sum(1 for r in labels.values() if r)
    assert positives >= 30 and len(labels) - positives >= 30
    found = found_by_ketch(tmp_path, labels)
    precision, recall = score(found, labels)
    wrong = {f: sorted(found.get(f, set()) ^ set(r)) for f, r in labels.items() if found.get(f, set()) != set(r)}
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, wrong)
    assert score_files(found, labels) >= (0.9, 0.9)


def test_the_committed_files_hold_no_key_shaped_string() -> None:
    """The positives are committed with markers only: the clean reading of them finds nothing."""
    labels = json.loads((SOURCE / "labels.json").read_text())
    found = found_by_ketch(SOURCE, labels)
    assert found == {}

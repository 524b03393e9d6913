"""The labelled set for precision and recall (tests/data/audit/labelled/secrets/).

Clean files are committed as they are. Files with credentials are committed with markers
(`@@github-token@@`) that are replaced here by fake keys of the right shape, so no key-shaped
string is ever committed; `labels.json` says which credentials each file holds (rule ids, and
`secret-guess` for a high-entropy value under a secret-like name).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fake_keys import ALNUM, CONTEXT_RULES, _rand, key, pem, snippet

SOURCE = Path(__file__).resolve().parents[1] / "data" / "audit" / "labelled" / "secrets"
_MARKER = re.compile(r"@@([a-z0-9-]+)@@")


def _value(name: str, seed: int) -> str:
    if name.startswith("private-key-"):
        return pem(name.removeprefix("private-key-").upper(), seed)
    if name == "secret-body":
        return _rand(seed, 20, ALNUM)
    if name == "gcp-service-account-key":
        return json.dumps(snippet(name, seed)[1])[1:-1]
    if name in CONTEXT_RULES or name == "secret-guess":
        return snippet(name, seed)[1]
    return key(name, seed)


def materialize(dest: Path) -> dict[str, list[str]]:
    """Write every labelled file into `dest`, keys filled in; return file name → rule ids."""
    labels: dict[str, list[str]] = json.loads((SOURCE / "labels.json").read_text())
    dest.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(sorted(labels)):
        text = (SOURCE / name).read_text()
        (dest / name).write_text(_MARKER.sub(lambda m, s=seed: _value(m.group(1), s), text))
    return labels


def score(found: dict[str, set[str]], labels: dict[str, list[str]]) -> tuple[float, float]:
    """Precision and recall over (file, rule) pairs."""
    tp = sum(len(found.get(f, set()) & set(rules)) for f, rules in labels.items())
    fp = sum(len(found.get(f, set()) - set(rules)) for f, rules in labels.items())
    fn = sum(len(set(rules) - found.get(f, set())) for f, rules in labels.items())
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def score_files(found: dict[str, set[str]], labels: dict[str, list[str]]) -> tuple[float, float]:
    """Precision and recall over files (has a credential or not): for tools with other rule names."""
    tp = sum(1 for f, rules in labels.items() if rules and found.get(f))
    fp = sum(1 for f, rules in labels.items() if not rules and found.get(f))
    fn = sum(1 for f, rules in labels.items() if rules and not found.get(f))
    return tp / max(1, tp + fp), tp / max(1, tp + fn)

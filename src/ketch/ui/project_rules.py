"""The project's own `.ketch/settings.local.json`, where older versions saved "always" rules.

"Always for this project" now goes to ketch's per-project store (config/project_store.py),
which lasts without trusting the folder; `/permissions remove` still takes a rule out of
this file, so what an older version granted can be revoked from the REPL. The file is
protected from TOOLS (the model must never grant itself permissions); ketch writes it only
on the person's explicit choice, atomically, keeping every other setting as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ketch.agent.permissions.offer import may_offer_always, rule_for  # noqa: F401  (what to offer lives there)
from ketch.agent.permissions.rules import Rule
from ketch.config.project_store import drop_rule, rule_list


def local_settings_path(workspace: Path) -> Path:
    return workspace / ".ketch" / "settings.local.json"


def append_project_rule(workspace: Path, rule: Rule, kind: str = "allow") -> Path:
    """Add `rule` to permissions.<kind> of the local settings file; return the file's path."""
    path = local_settings_path(workspace)
    data = _read(path)
    rules = rule_list(path, data, kind, create=True)
    if str(rule) not in rules:
        rules.append(str(rule))
    _write(path, data)
    return path


def remove_project_rule(workspace: Path, text: str) -> list[str]:
    """Take the rule written `text` out of every permissions list of the local settings file.

    Returns the lists it was removed from (empty when the file never had it: nothing is
    rewritten then).
    """
    path = local_settings_path(workspace)
    if not path.exists():
        return []
    data = _read(path)
    removed_from = drop_rule(path, data, text)
    if removed_from:
        _write(path, data)
    return removed_from


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError(  # noqa: TRY004 - bad data in a settings file: callers catch ValueError
            f"{path} does not hold a JSON object; edit it by hand")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically: a crash or Ctrl-C leaves the old file or the new one, never half of one."""
    from ketch.atomic_write import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))

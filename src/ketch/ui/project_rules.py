"""Rules the person grants from the REPL: for this session (memory) or this project (a file).

"Always for this project" appends to `<workspace>/.ketch/settings.local.json`. That file is
protected from TOOLS (the model must never grant itself permissions); ketch writes it here
only on the person's explicit choice, atomically (temp file + rename), keeping every other
setting in the file as it was. Which rule is offered is `rule_offer`'s job.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ketch.agent.rules import Rule
from ketch.ui.rule_offer import may_offer_always, rule_for  # noqa: F401  (what to offer lives there)


def local_settings_path(workspace: Path) -> Path:
    return workspace / ".ketch" / "settings.local.json"


def append_project_rule(workspace: Path, rule: Rule, kind: str = "allow") -> Path:
    """Add `rule` to permissions.<kind> of the local settings file; return the file's path."""
    path = local_settings_path(workspace)
    data: dict[str, Any] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a JSON object; edit it by hand")
    permissions = data.setdefault("permissions", {})
    if not isinstance(permissions, dict):
        raise ValueError(f"{path}: \"permissions\" is not an object; edit it by hand")
    rules = permissions.setdefault(kind, [])
    if not isinstance(rules, list):
        raise ValueError(f"{path}: \"permissions.{kind}\" is not a list; edit it by hand")
    if str(rule) not in rules:
        rules.append(str(rule))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings.local.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path

"""Which set of a project's hooks the person approved, kept outside the project (DESIGN.md §5.6).

A project's hooks run programs the repository chose, outside the sandbox, so they run only
after the person saw and approved that exact set. The approval is one fingerprint beside the
folder's remembered rules, `$KETCH_HOME/projects/<slug>/hook-approvals.json`, which the project
cannot write (the same place and shape as ext/mcp/approvals.py):

    {"project": "/home/me/src/app", "fingerprint": "<sha256 of every project hook, as written>"}

Any change to an event, matcher, command, timeout or the file it is in asks again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketch.ext.hooks.config import HookCommand

APPROVALS_NAME = "hook-approvals.json"


def approvals_path(workspace: Path) -> Path:
    from ketch.config.project_store import remembered_path

    return remembered_path(workspace).with_name(APPROVALS_NAME)


def fingerprint(workspace: Path, hooks: list[HookCommand]) -> str:
    import hashlib

    root = os.path.realpath(workspace)
    rows = [[os.path.relpath(h.source, root), h.event, h.matcher, h.command, h.timeout_s] for h in hooks]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode("utf-8")).hexdigest()


def _owner(workspace: Path) -> str:
    return str(Path(os.path.realpath(workspace)))


def is_approved(workspace: Path, hooks: list[HookCommand]) -> bool:
    """True when the person approved exactly this set (a damaged or foreign store approves nothing)."""
    try:
        data = json.loads(approvals_path(workspace).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("project") == _owner(workspace) \
        and data.get("fingerprint") == fingerprint(workspace, hooks)


def approve_hooks(workspace: Path, hooks: list[HookCommand]) -> Path:
    """Record the person's approval of this set as it is now; return the store's path."""
    from ketch.atomic_write import write_atomic

    path = approvals_path(workspace)
    for folder in (path.parent.parent, path.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = {"project": _owner(workspace), "fingerprint": fingerprint(workspace, hooks)}
    write_atomic(path, (json.dumps(body, indent=2) + "\n").encode("utf-8"), mode=0o600)
    return path

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


def is_approved(workspace: Path, hooks: list[HookCommand]) -> bool:
    """True when the person approved exactly this set (a damaged or foreign store approves nothing)."""
    from ketch.config.project_store import read_record

    return read_record(workspace, APPROVALS_NAME).get("fingerprint") == fingerprint(workspace, hooks)


def approve_hooks(workspace: Path, hooks: list[HookCommand]) -> Path:
    """Record the person's approval of this set as it is now; return the store's path."""
    from ketch.config.project_store import write_record

    return write_record(workspace, APPROVALS_NAME, {"fingerprint": fingerprint(workspace, hooks)})

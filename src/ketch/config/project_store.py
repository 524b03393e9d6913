"""What the person chose to "always allow" in one project, kept in ketch's own folder.

A rule granted from the permission question must apply next time, in the REPL and headless,
without trusting anything the project ships. So it is not written into the project's tree
(`.ketch/settings.local.json` is the project's, and held back until the folder is trusted)
but to `$KETCH_HOME/projects/<folder-slug>/settings.json`, beside the folder's sessions, as
Claude Code keeps per-project state under ~/.claude. The file is read as a user-level layer
scoped to that folder: the person's own, like `$KETCH_HOME/settings.json`.

Why a repository cannot write or steer it: it lives outside the tree, under `$KETCH_HOME`,
which file tools refuse and the sandbox hides from commands; its folder is chosen by the
canonical path of the folder ketch runs in, which only the person chooses; and the file
names that path (`"project"`), so a slug shared by two folders (`/a-b`, `/a/b`) never lends
one folder's rules to the other.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ketch.config.settings import LayerSettings, ketch_home, read_layer
from ketch.errors import ConfigError

KINDS = ("allow", "ask", "deny")


def project_slug(workspace: Path) -> str:
    """The folder's name under `$KETCH_HOME/projects/` (shared with its session transcripts)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", str(workspace)).strip("-")[:200] or "root"


def remembered_path(workspace: Path) -> Path:
    return ketch_home() / "projects" / project_slug(_canonical(workspace)) / "settings.json"


def _canonical(workspace: Path) -> Path:
    return Path(os.path.realpath(workspace))


def read_remembered(workspace: Path) -> LayerSettings | None:
    """The remembered layer for `workspace`, or None when nothing was remembered there."""
    path = remembered_path(workspace)
    layer = read_layer(path, extra_keys=frozenset({"project"}))
    if layer is None:
        return None
    if layer.project != str(_canonical(workspace)):
        owner = f"belongs to {layer.project}" if layer.project else 'names no "project"'
        return LayerSettings(path=path, warnings=[(f"{path} {owner}, not {_canonical(workspace)}: "
                                                   "its rules are not applied here")])
    return layer


def remembered_rules(workspace: Path) -> dict[str, list[str]]:
    """The remembered rules by kind, for listing; {} when there are none or the file is not this folder's."""
    path = remembered_path(workspace)
    try:
        data = _load(path, _canonical(workspace))
    except (OSError, ValueError, ConfigError):
        return {}
    perms = data.get("permissions")
    if not isinstance(perms, dict):
        perms = {}
    return {k: [r for r in perms.get(k, []) if isinstance(r, str)] for k in KINDS if perms.get(k)}


def remember_rule(workspace: Path, rule: str, kind: str = "allow") -> Path:
    """Add `rule` to the folder's remembered `kind` list; return the file. Raises OSError/ValueError."""
    path = remembered_path(workspace)
    data = _load(path, _canonical(workspace))
    rules = rule_list(path, data, kind, create=True)
    if rule not in rules:
        rules.append(rule)
    _save(path, data)
    return path


def forget_rule(workspace: Path, rule: str) -> list[str]:
    """Take `rule` out of every remembered list; return the kinds it was in (nothing rewritten if none)."""
    path = remembered_path(workspace)
    if not path.exists():
        return []
    data = _load(path, _canonical(workspace))
    removed = drop_rule(path, data, rule)
    if removed:
        _save(path, data)
    return removed


def _load(path: Path, workspace: Path) -> dict[str, Any]:
    """The file's JSON object ({"project": ...} for a new one); refuses another folder's file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"project": str(workspace)}
    data = json.loads(text) if text.strip() else {"project": str(workspace)}
    if not isinstance(data, dict):
        raise ValueError(  # noqa: TRY004 - bad data in a settings file: callers catch ValueError
            f"{path} does not hold a JSON object; edit it by hand")
    if data.get("project") != str(workspace):
        raise ValueError(f"{path} belongs to {data.get('project')!r}, not {workspace}")
    return data


def drop_rule(path: Path, data: dict[str, Any], rule: str) -> list[str]:
    """Take `rule` out of every permissions list of a settings object; the lists it was in."""
    removed = []
    for kind in KINDS:
        rules = rule_list(path, data, kind, create=False)
        if rules is not None and rule in rules:
            rules[:] = [r for r in rules if r != rule]
            removed.append(kind)
    return removed


def rule_list(path: Path, data: dict[str, Any], kind: str, create: bool) -> Any:
    """permissions[kind] of a settings object (made when `create`); ValueError names a bad shape."""
    permissions = data.setdefault("permissions", {}) if create else data.get("permissions", {})
    if not isinstance(permissions, dict):
        raise ValueError(  # noqa: TRY004 - bad data in a settings file: callers catch ValueError
            f'{path}: "permissions" is not an object; edit it by hand')
    rules = permissions.setdefault(kind, []) if create else permissions.get(kind)
    if rules is not None and not isinstance(rules, list):
        raise ValueError(f'{path}: "permissions.{kind}" is not a list; edit it by hand')
    return rules


def _save(path: Path, data: dict[str, Any]) -> None:
    from ketch.atomic_write import write_atomic

    for folder in (path.parent.parent, path.parent):  # projects/ and projects/<slug>/: the person's only
        folder.mkdir(mode=0o700, exist_ok=True, parents=True)
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"), mode=0o600)


def read_record(workspace: Path, name: str) -> dict[str, Any]:
    """Another of the folder's own records beside its remembered settings (`name`: e.g. the MCP
    servers or hooks the person approved); {} when missing, damaged or another folder's (a damaged
    record grants nothing: it can only make ketch ask again)."""
    try:
        data = json.loads(remembered_path(workspace).with_name(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("project") == str(_canonical(workspace)) else {}


def write_record(workspace: Path, name: str, body: dict[str, Any]) -> Path:
    """Write record `name` for the folder (naming the folder, as its remembered settings do); its path."""
    path = remembered_path(workspace).with_name(name)
    _save(path, {"project": str(_canonical(workspace)), **body})
    return path

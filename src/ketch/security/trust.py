"""Folder trust: which project folders the user has said may loosen policy (DESIGN.md §5.5).

A cloned repository is written by someone else. Until the user trusts its folder, nothing
from it that loosens or redirects may take effect (see config.policy.load_policy). The
store is `$KETCH_HOME/trusted-folders.json`:

    {"version": 1, "folders": {"/home/me/src/app": "2025-06-01T12:00:00Z"}}

Paths are canonical (absolute, symlinks resolved) and compared component by component, so
trusting /work/app trusts /work/app/sub but never /work/app-evil, and a symlink into a
trusted folder is judged by where it really points. A store that cannot be read or parsed
counts as empty (one warning on stderr): a broken file must never trust anything by accident,
and must never stop ketch from running.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ketch.config.settings import ketch_home
from ketch.security.private_file import write_private_atomic

STORE_NAME = "trusted-folders.json"


def store_path() -> Path:
    return ketch_home() / STORE_NAME


def canonical(folder: str | os.PathLike[str]) -> Path:
    """Absolute, `~` expanded, every symlink resolved: the one name a folder has here."""
    return Path(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(folder)))))


def _warn_stderr(message: str) -> None:
    sys.stderr.write(f"ketch: warning: {message}\n")


def _load(warn: Callable[[str], None]) -> dict[str, str]:
    path = store_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        warn(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc}); treating no folder as trusted")
        return {}
    problem = None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        data, problem = None, f"invalid JSON at line {exc.lineno} column {exc.colno}"
    folders = data.get("folders") if isinstance(data, dict) else None
    if problem is None and not (
        isinstance(folders, dict)
        and all(isinstance(k, str) and os.path.isabs(k) and isinstance(v, str) for k, v in folders.items())
    ):
        problem = 'expected {"folders": {"/absolute/path": "time"}}'
    if problem:
        warn(f"ignoring corrupted trust store {path} ({problem}); no folder is trusted until you trust it "
             "again (e.g. ketch --trust)")
        return {}
    return dict(folders)  # type: ignore[arg-type]


def _save(folders: dict[str, str]) -> None:
    body = {"version": 1, "folders": dict(sorted(folders.items()))}
    write_private_atomic(store_path(), (json.dumps(body, indent=2) + "\n").encode("utf-8"))


def trusted_folders(warn: Callable[[str], None] = _warn_stderr) -> dict[Path, str]:
    """Every trusted folder and when it was trusted (ISO 8601, UTC)."""
    return {Path(k): v for k, v in _load(warn).items()}


def is_trusted(folder: str | os.PathLike[str], warn: Callable[[str], None] = _warn_stderr) -> bool:
    """True when `folder` was trusted, or an ancestor was and no folder on the way down holds
    its own project configuration (`.ketch/`, `.claude/`, `.mcp.json`): such a folder is
    another project (or one a command made inside the trusted one), trusted on its own."""
    path = canonical(folder)
    parts = path.parts
    for root in _load(warn):
        root_parts = Path(root).parts
        if parts[: len(root_parts)] == root_parts and not _own_config_below(root_parts, parts):
            return True
    return False


def _own_config_below(root_parts: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    from ketch.security.protected import ANY_DEPTH_CONFIG

    for depth in range(len(root_parts) + 1, len(parts) + 1):
        folder = Path(*parts[:depth])
        if any(os.path.lexists(folder / name) for name in ANY_DEPTH_CONFIG):
            return True
    return False


def trust(folder: str | os.PathLike[str], warn: Callable[[str], None] = _warn_stderr) -> Path:
    """Record `folder` (canonical) as trusted and return the path recorded."""
    path = canonical(folder)
    folders = _load(warn)
    folders[str(path)] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _save(folders)
    return path


def untrust(folder: str | os.PathLike[str], warn: Callable[[str], None] = _warn_stderr) -> bool:
    """Forget `folder` itself; False when it was not recorded.

    A folder trusted through an ancestor stays trusted: untrust the ancestor for that.
    """
    key = str(canonical(folder))
    folders = _load(warn)
    if key not in folders:
        return False
    del folders[key]
    _save(folders)
    return True

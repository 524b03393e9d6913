"""Turning a model-given path into the one real file it names.

Every file tool and the permission gate must agree on which file a path means, so there
is exactly one way to do it: absolute or relative to the workspace, `~` expanded, then
canonical with symlinks resolved (DESIGN.md §5.3). Containment is decided on path
components: `/work/app-secrets` is not inside `/work/app`, whatever a string prefix says.
"""

from __future__ import annotations

import os
from pathlib import Path

from ketch.tools.base import ToolError


def resolve(file_path: object, workspace: Path) -> Path:
    """Canonical absolute path for `file_path`; ToolError if it cannot name a file."""
    if not isinstance(file_path, str) or not file_path.strip():
        raise ToolError("file_path must be a non-empty path")
    if "\x00" in file_path:
        raise ToolError("file_path contains a NUL byte")
    expanded = os.path.expanduser(file_path)
    joined = os.path.join(os.fspath(workspace), expanded)  # an absolute `expanded` wins
    try:
        return Path(os.path.realpath(joined))
    except (OSError, ValueError) as exc:  # symlink loops on some Pythons, odd bytes
        raise ToolError(f"cannot resolve path {file_path!r}: {exc}") from None


def is_inside(path: Path | str, root: Path | str) -> bool:
    """True when `path` is `root` or lies below it, both taken canonically."""
    p = Path(os.path.realpath(path)).parts
    r = Path(os.path.realpath(root)).parts
    return len(p) >= len(r) and p[: len(r)] == r


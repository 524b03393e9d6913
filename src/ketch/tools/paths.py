"""Turning a model-given path into the one real file it names.

Every file tool and the permission gate must agree on which file a path means, so there
is exactly one way to do it: absolute or relative to the workspace, `~` expanded, then
canonical with symlinks resolved (DESIGN.md §5.3). Containment is decided on path
components: `/work/app-secrets` is not inside `/work/app`, whatever a string prefix says.

A small model often drops an absolute path's leading slash ("work/proj/app.py" for
"/work/proj/app.py") or repeats the workspace's own folder ("proj/app.py" in /work/proj);
joined to the workspace, that names a file that does not exist, and the error used to show
the path doubled, which the model could not make sense of (issue 16). When the path as
written names nothing and exactly one such reading names a file inside the workspace, that
file is meant; otherwise errors name the candidates inside the workspace (`missing`). Resolving only picks which
path the model meant: the gate and the tools' execution-time checks then run on that path
as on any other.
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
        path = Path(os.path.realpath(joined))
        if os.path.isabs(expanded) or os.path.lexists(path):
            return path
        meant = [c for c in _readings(Path(expanded), workspace, for_new=True) if is_inside(c, workspace)]
        return meant[0] if len(meant) == 1 else path
    except (OSError, ValueError) as exc:  # symlink loops on some Pythons, odd bytes
        raise ToolError(f"cannot resolve path {file_path!r}: {exc}") from None


def _readings(rel: Path, workspace: Path, *, for_new: bool) -> list[Path]:
    """What a relative path that names nothing may have meant, canonical: the workspace's own
    folders written again at its start ("proj/app.py", "work/proj/app.py" in /work/proj; the
    whole workspace is the lost leading slash), then "/" + the path itself. A reading counts if
    that file exists, or, for the lost slash with `for_new` (a Write of a new file), if the
    workspace has nothing of the path's first name: "work/proj/x.py" cannot mean a folder "work"."""
    parts = rel.parts
    ws = Path(os.path.realpath(workspace))
    ws_parts = ws.parts[1:]
    found: list[Path] = []
    for k in range(len(ws_parts), 0, -1):
        if len(parts) > k and tuple(parts[:k]) == ws_parts[-k:]:
            candidate = Path(os.path.realpath(ws.joinpath(*parts[k:])))
            new_ok = for_new and k == len(ws_parts) and not os.path.lexists(ws / parts[0])
            if (os.path.lexists(candidate) or new_ok) and candidate not in found:
                found.append(candidate)
    absolute = Path(os.path.realpath(os.path.join(os.sep, *parts))) if parts else None
    if absolute is not None and os.path.lexists(absolute) and absolute not in found:
        found.append(absolute)
    return found


def missing(path: Path, workspace: Path) -> str:
    """`path`, which does not exist, named so a small model can recover: a path the workspace
    was joined to is shown as written (never doubled, "/work/proj/work/proj/app.py"), with the
    workspace's files it may have meant ("work/proj/app.py (did you mean /work/proj/app.py?)")."""
    ws = Path(os.path.realpath(workspace))
    if not is_inside(path, ws) or path == ws:
        return str(path)
    rel = path.relative_to(ws)
    # Only files inside the workspace are named: "did you mean ~/.ssh/id_rsa?" would tell
    # whether a file exists where the gate lets nothing be read (an existence oracle).
    meant = [c for c in _readings(rel, ws, for_new=False) if is_inside(c, ws)]
    if meant:
        return f"{rel.as_posix()} (did you mean {' or '.join(map(str, meant))}?)"
    if rel.parts and rel.parts[0] in ws.parts[1:]:  # it repeats the workspace's folders: say where it looked
        return f"{rel.as_posix()} (looked for in the workspace {ws}; give an absolute path)"
    return str(path)


def is_inside(path: Path | str, root: Path | str) -> bool:
    """True when `path` is `root` or lies below it, both taken canonically."""
    p = Path(os.path.realpath(path)).parts
    r = Path(os.path.realpath(root)).parts
    return len(p) >= len(r) and p[: len(r)] == r


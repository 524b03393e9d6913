"""Programs ketch runs outside the sandbox, and the folders the model must not plant code in.

ketch itself runs a few programs on the host, outside the sandbox and with its own rights:
`git` for undo snapshots and `@` mentions, `bwrap` to build the sandbox. Found by a plain
PATH lookup, a project venv or `node_modules/.bin` on PATH (or a direnv `PATH_add`) would
let the model plant `.venv/bin/git` and have ketch run it unsandboxed, with ketch's
environment (DESIGN.md §5.5). So each is looked up once, in PATH folders that are absolute
and outside every folder a tool can write, and the result must itself resolve outside them.

The same idea protects the person: a PATH folder inside a writable folder holds programs
their shell runs later, outside the sandbox; `protected_code_folders` lists those and the
folders ketch's own code loads from (interpreter prefix, site-packages, ketch's package),
so the file tools refuse them and the sandbox mounts them read-only.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from ketch.errors import KetchError

_lock = threading.Lock()
_pinned: tuple[Path, ...] | None = None
_found: dict[tuple[str, str], str | None] = {}  # (name, PATH) -> where


class HostProgramMissing(KetchError):
    """No safe copy of a program ketch needs on the host."""


def _canonical(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, root: Path) -> bool:
    return path.parts[: len(root.parts)] == root.parts


def pin_writable_roots(roots: Iterable[Path]) -> None:
    """Tell the lookup which folders tools can write (the workspace, added folders, caches).

    Called by the wiring at start; programs already found are looked up again."""
    global _pinned
    with _lock:
        _pinned = tuple(dict.fromkeys(_canonical(r) for r in roots))
        _found.clear()


def writable_roots() -> tuple[Path, ...]:
    """The pinned roots (and the package caches under the home, which the user may make
    writable); before any pin, the working folder (where `ketch undo` and friends run)."""
    from ketch.security.sandbox.policy import DEFAULT_CACHES

    roots = _pinned if _pinned is not None else (_canonical(os.getcwd()),)
    return (*roots, *(_canonical(Path.home() / c) for c in DEFAULT_CACHES))


def _path_entries() -> list[str]:
    return os.environ.get("PATH", os.defpath).split(os.pathsep)


def find(name: str) -> str | None:
    """Absolute path of `name` from a PATH folder no tool can write; None if there is none."""
    key = (name, os.environ.get("PATH", os.defpath))
    with _lock:
        if key in _found:
            return _found[key]
        roots = writable_roots()
        found = None
        for entry in _path_entries():
            if not entry or not os.path.isabs(entry):
                continue  # "" and "." mean the working folder: never
            folder = _canonical(entry)
            if any(_inside(folder, r) for r in roots):
                continue
            candidate = folder / name
            if not (candidate.is_file() and os.access(candidate, os.X_OK)):
                continue
            real = _canonical(candidate)
            if any(_inside(real, r) for r in roots):
                continue  # /usr/local/bin/git -> <workspace>/.venv/bin/git
            found = str(real) if real.name == name else str(candidate)
            break
        _found[key] = found
        return found


def require(name: str, what: str) -> str:
    """`find`, or HostProgramMissing naming what needs it."""
    found = find(name)
    if found is None:
        raise HostProgramMissing(
            f"{name} is not installed outside the project ({what} needs it; copies inside folders "
            "the model can write are never run by ketch itself)")
    return found


def path_folders_inside(roots: Iterable[Path]) -> list[Path]:
    """PATH folders (as given, and canonical) that lie inside one of `roots`."""
    roots = [_canonical(r) for r in roots]
    out: dict[Path, None] = {}
    for entry in _path_entries():
        if not entry:
            continue
        for form in (Path(os.path.abspath(entry)), _canonical(entry)):
            if any(_inside(form, r) and form != r for r in roots):
                out[form] = None
    return list(out)


def own_code_folders() -> list[Path]:
    """Where this ketch's code comes from: interpreter prefixes, site-packages, the package."""
    import site
    import sysconfig

    folders = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
               sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), sysconfig.get_path("scripts")}
    try:
        folders.update(site.getsitepackages())
    except AttributeError:  # some embedded Pythons lack it
        pass
    user_site = getattr(site, "USER_SITE", None)
    if user_site:
        folders.add(user_site)
    folders.add(str(Path(__file__).resolve().parent.parent))  # the ketch package itself
    # Every folder imports come from (an editable install's src/, a .pth's additions): a
    # module planted there that ketch imports lazily would run as ketch.
    folders.update(p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p))
    if sys.executable:
        folders.add(str(Path(sys.executable).parent))
    return [Path(f) for f in folders if f]


_VENV_SHELL_FILES = ("pyvenv.cfg", "bin/activate", "bin/activate.csh", "bin/activate.fish", "bin/activate.nu",
                     "bin/activate.ps1", "bin/Activate.ps1", "bin/activate_this.py")


def venv_shell_files(roots: Iterable[Path], depth: int = 2) -> list[Path]:
    """The activate scripts and `pyvenv.cfg` of the virtual environments that exist in `roots`
    (found by their `pyvenv.cfg`, up to `depth` folders down). A person sources `activate`
    into their own shell, like `.envrc`; `pyvenv.cfg` names the interpreter the venv's python
    runs. pip never writes them, so protecting them costs installs nothing."""
    out: list[Path] = []
    frontier = [_canonical(r) for r in roots]
    for _ in range(depth + 1):
        below: list[Path] = []
        for folder in frontier:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            if any(e.name == "pyvenv.cfg" for e in entries):
                out += [folder / rel for rel in _VENV_SHELL_FILES if os.path.lexists(folder / rel)]
                continue
            below += [Path(e.path) for e in entries[:200] if e.is_dir(follow_symlinks=False)
                      and e.name not in (".git", "node_modules")]
        frontier = below
    return out


def protected_code_folders(roots: Iterable[Path]) -> list[Path]:
    """PATH folders and ketch's own code folders that lie inside a writable root, and the shell
    files of the virtual environments there (`venv_shell_files`).

    Only those inside: a prefix like /usr that *contains* the workspace must not swallow it.
    """
    roots = [_canonical(r) for r in roots]
    out: dict[Path, None] = dict.fromkeys([*path_folders_inside(roots), *venv_shell_files(roots)])
    for folder in own_code_folders():
        for form in (Path(os.path.abspath(folder)), _canonical(folder)):
            if any(_inside(form, r) and form != r for r in roots):
                out[form] = None
    return list(out)

"""Every place the user's own git reads config or hooks from, found on disk now (DESIGN.md §5.4).

Fixed paths (`.git/config`, `.git/hooks`) miss most of them: a nested repository's
`core.fsmonitor` (git runs it from the outer repo's `git status` too, as soon as the nested
repo is a gitlink in the index), the folder `core.hooksPath` names (husky's `.husky/_`,
a `.githooks/`), files pulled in by `include.path` / `includeIf.*.path`, a `.git` *file*
(`gitdir: elsewhere`) and the folder it points to, a git folder's `commondir`, programs named
by path in config (`core.fsmonitor = tools/watch.sh`), and the configs of hook managers
that an installed hook runs (`.pre-commit-config.yaml`, `lefthook.yml`).

`discover()` walks the writable roots (bounded: depth, folder count, and dependency or
cache folders by name skipped; see SKIPPED) and reads only what git itself would read; it
never runs git (that would run the very fsmonitor we guard against). It is redone at each
tool call: a repository can appear between calls. Config is parsed leniently here, which is
safe because every config file it reads is itself protected: the model cannot have written
it (new repositories made during a command are checked strictly by security.git_audit).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ketch.security.git.config import ConfigValues, read_config, resolve
from ketch.security.git.listings import listing

# Files and folders of a git folder that decide what code git runs.
GIT_DIR_FILES = ("config", "config.worktree", "commondir")
GIT_DIR_FOLDERS = ("hooks", "modules", "worktrees")

# Folders the walk does not enter: dependency trees and caches can hold 10^5 folders.
# Skipping is an attack surface (a repository planted in node_modules/ is not protected);
# security.git_audit closes the part of it the user's git reaches by itself (gitlinks).
SKIPPED = frozenset({
    "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".gradle", ".cargo", ".rustup", ".npm", ".pnpm-store", ".yarn", ".cache",
})
MAX_DEPTH = 12
MAX_FOLDERS = 20000

# Hook managers: an installed hook runs what these files say, at the user's next commit.
HOOK_MANAGER_FILES = (
    ".pre-commit-config.yaml", ".pre-commit-config.yml", "lefthook.yml", "lefthook.yaml", ".lefthook.yml",
    ".lefthook.yaml", "lefthook-local.yml", ".lefthook-local.yml", ".overcommit.yml", ".husky",
)
HOOK_NAMES = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
    "prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout", "post-merge",
    "pre-push", "pre-receive", "update", "proc-receive", "post-receive", "post-update",
    "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite", "sendemail-validate",
    "fsmonitor-watchman", "p4-changelist", "p4-prepare-changelist", "p4-post-changelist", "p4-pre-submit",
    "post-index-change",
)


@dataclass
class GitPlaces:
    """What `discover()` found: paths to protect (with whether each is a folder), and the git folders."""

    protected: dict[Path, bool] = field(default_factory=dict)
    git_dirs: set[Path] = field(default_factory=set)    # real paths of every git folder in use
    pointers: set[Path] = field(default_factory=set)    # `.git` entries (folder, file or link)
    complete: bool = True                                # False when the walk hit a bound
    unreadable: list[Path] = field(default_factory=list)  # folders the walk could not list

    def add(self, path: Path, is_dir: bool) -> None:
        self.protected.setdefault(Path(os.path.abspath(path)), is_dir)


def discover(roots: list[Path], home: Path, *, bounded: bool = True) -> GitPlaces:
    """Every git config, hook folder, pointer and included file the user's git reads under `roots`.

    Besides what the walk finds now, every `.git` entry found (or remembered) under the same
    root earlier in this process and still there: a walk that hits its bounds, or a folder
    made unreadable, must not drop a repository out of protection. `bounded=False` (the
    check after a command) walks every folder, however many.
    """
    places = GitPlaces()
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    global_configs = [home / ".gitconfig", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "git/config",
                      Path("/etc/gitconfig")]
    global_values = ConfigValues()
    for cfg in global_configs:
        read_config(cfg, home, global_values, 0)
    for path in global_values.includes:
        places.add(path, False)
    for root in real_roots:
        if _looks_like_git_dir(root):
            # A git folder added as a root so that a linked worktree can commit into it.
            _add_git_dir(places, root, None, home, global_values, real_roots, shared=True)
        found = _walk_for_dot_git(root, places, bounded)
        with _KNOWN_LOCK:  # sandboxed calls run in parallel threads, each discovering
            known = _KNOWN_POINTERS.setdefault(root, set())
            known.update(found)
            known.difference_update([p for p in known if not os.path.lexists(p)])
            snapshot = sorted(known)
        for pointer in snapshot:
            places.pointers.add(pointer)
            _add_pointer(places, pointer, home, global_values, real_roots)
    return places


# root -> every `.git` entry found under it in this process; an entry goes only when it is gone.
_KNOWN_POINTERS: dict[Path, set[Path]] = {}
_KNOWN_LOCK = threading.Lock()


def remember_pointer(pointer: Path, roots: list[Path]) -> None:
    """Protect from now on a `.git` entry no walk finds (a gitlinked repository in node_modules/)."""
    pointer = Path(os.path.abspath(pointer))
    for root in (Path(os.path.realpath(r)) for r in roots):
        if pointer.parts[: len(root.parts)] == root.parts:
            with _KNOWN_LOCK:
                _KNOWN_POINTERS.setdefault(root, set()).add(pointer)
            return


def _walk_for_dot_git(root: Path, places: GitPlaces, bounded: bool) -> list[Path]:
    """Every `.git` entry under root, breadth first, never following links.

    `bounded`: stop at MAX_DEPTH / MAX_FOLDERS (and say so in `places.complete`). Unbounded
    walks (after a command) still never loop: a folder seen twice (a bind mount of an
    ancestor) is entered once. Listings come from security.folder_listings, so a walk
    re-reads only folders that changed since the last one.
    """
    found: list[Path] = []
    queue: deque[tuple[str, int]] = deque([(str(root), 0)])
    entered: set[tuple[int, int]] = set()
    while queue:
        folder, depth = queue.popleft()
        if bounded and len(entered) >= MAX_FOLDERS:
            places.complete = False
            break
        try:
            st = os.lstat(folder)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                places.unreadable.append(Path(folder))
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        identity = (st.st_dev, st.st_ino)
        if identity in entered:
            continue
        entered.add(identity)
        content = listing(folder, st)
        if content is None:
            places.unreadable.append(Path(folder))
            continue
        if content.has_dot_git:
            found.append(Path(folder) / ".git")
        if bounded and depth + 1 > MAX_DEPTH:
            places.complete = places.complete and not [n for n in content.subfolders if n not in SKIPPED]
            continue
        prefix = folder if folder.endswith("/") else folder + "/"
        queue.extend((prefix + name, depth + 1) for name in content.subfolders if name not in SKIPPED)
    return found


def _looks_like_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def read_gitdir_pointer(pointer: Path) -> Path | None:
    """Where a `.git` file sends git (`gitdir: <path>`, relative to the file's folder)."""
    try:
        with open(pointer, "rb") as f:
            first = f.read(4096).split(b"\n", 1)[0].strip()
    except OSError:
        return None
    if not first.startswith(b"gitdir:"):
        return None
    target = os.fsdecode(first[len(b"gitdir:"):].strip())
    if not target:
        return None
    return Path(os.path.normpath(os.path.join(pointer.parent, target)))


def _add_pointer(places: GitPlaces, pointer: Path, home: Path, global_values: ConfigValues,
                 roots: list[Path]) -> None:
    """A `.git` entry: a folder (or a link to one) is the git folder; a file points to it."""
    try:
        st = os.lstat(pointer)
    except OSError:
        return
    worktree = pointer.parent
    if stat.S_ISREG(st.st_mode):
        places.add(pointer, False)  # rewriting the pointer redirects git to any folder
        target = read_gitdir_pointer(pointer)
        if target is not None:
            _add_git_dir(places, Path(os.path.realpath(target)), worktree, home, global_values, roots)
        return
    # A folder, or a link git follows: protect the files inside it (literal path, so the
    # sandbox pins the link too), and the real folder behind it.
    _add_git_dir(places, pointer, worktree, home, global_values, roots)
    real = Path(os.path.realpath(pointer))
    if real != pointer:
        _add_git_dir(places, real, worktree, home, global_values, roots)


def _add_git_dir(places: GitPlaces, git_dir: Path, worktree: Path | None, home: Path,
                 global_values: ConfigValues, roots: list[Path], hops: int = 0, shared: bool = False) -> None:
    """A git folder's own config and hooks, its common folder's, and what their config names.

    `shared`: linked worktrees keep their admin folders under its worktrees/ and commit there.
    """
    for name in GIT_DIR_FILES:
        places.add(git_dir / name, False)
    for name in GIT_DIR_FOLDERS:
        if name == "worktrees" and shared:
            # The common folder of a linked worktree in use: that worktree's own admin folder
            # under worktrees/ must stay writable (index, HEAD), so only each admin folder's
            # pointers are held; new ones are checked after each command (security.git_audit).
            for admin in _children(git_dir / name):
                places.add(admin / "commondir", False)
                places.add(admin / "config.worktree", False)
            continue
        places.add(git_dir / name, True)
    places.git_dirs.add(Path(os.path.realpath(git_dir)))
    values = ConfigValues()
    for name in ("config", "config.worktree"):
        read_config(git_dir / name, home, values, 0)
    common = _read_commondir(git_dir)
    if common is not None and hops < 4 and Path(os.path.realpath(common)) not in places.git_dirs:
        _add_git_dir(places, common, worktree, home, global_values, roots, hops + 1, shared=True)
    for path in values.includes:
        places.add(path, False)
    hooks_active = _has_active_hooks(git_dir) or bool(values.hooks_paths or global_values.hooks_paths)
    if worktree is None:
        return
    for raw in [*values.hooks_paths, *global_values.hooks_paths]:
        _add_hooks_path(places, resolve(raw, worktree, home), worktree, roots)
    for raw in [*values.programs, *global_values.programs]:
        program = resolve(raw, worktree, home)
        if not _is_root_or_above(program, roots):
            places.add(program, False)
    if hooks_active:
        _add_hook_manager_files(places, git_dir, worktree)


def _add_hook_manager_files(places: GitPlaces, git_dir: Path, worktree: Path) -> None:
    """Hook managers' configs that exist, and missing ones an installed hook names."""
    hook_text = _hooks_text(git_dir)
    for name in HOOK_MANAGER_FILES:
        stem = name.strip(".").split(".")[0].replace("-local", "").replace("-config", "")
        if os.path.lexists(worktree / name) or stem in hook_text:
            places.add(worktree / name, name == ".husky")


def _hooks_text(git_dir: Path) -> str:
    """The installed hooks' text (bounded), to see which manager they call."""
    chunks: list[str] = []
    folder = (_read_commondir(git_dir) or git_dir) / "hooks"
    try:
        names = [n for n in os.listdir(folder) if not n.endswith(".sample")][:64]
    except OSError:
        return ""
    for name in names:
        try:
            with open(folder / name, "rb") as f:
                chunks.append(f.read(16384).decode("utf-8", "replace"))
        except OSError:
            continue
    return "\n".join(chunks)


def _add_hooks_path(places: GitPlaces, folder: Path, worktree: Path, roots: list[Path]) -> None:
    """core.hooksPath's folder; only its hook-named files when it is a root (or above one)."""
    if _is_root_or_above(folder, roots) or folder == worktree:
        for name in HOOK_NAMES:
            places.add(folder / name, False)
        return
    places.add(folder, True)
    # husky (v9: `.husky/_`) keeps stubs there that run the scripts one level up.
    for parent in [folder, *folder.parents]:
        if parent == worktree or parent.parent == parent:
            break
        if parent.name == ".husky":
            places.add(parent, True)
            break


def _children(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _is_root_or_above(path: Path, roots: list[Path]) -> bool:
    return any(root.parts[: len(path.parts)] == path.parts for root in roots) or path == Path("/")


def _read_commondir(git_dir: Path) -> Path | None:
    try:
        text = (git_dir / "commondir").read_text(errors="surrogateescape").strip()
    except OSError:
        return None
    return Path(os.path.normpath(os.path.join(git_dir, text))) if text else None


def _has_active_hooks(git_dir: Path) -> bool:
    """Whether any hook is installed (not a `.sample`), here or in the common folder."""
    for folder in (git_dir / "hooks", (_read_commondir(git_dir) or git_dir) / "hooks"):
        try:
            if any(not n.endswith(".sample") for n in os.listdir(folder)):
                return True
        except OSError:
            continue
    return False

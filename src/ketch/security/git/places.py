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
import shlex
import stat
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

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
MAX_INCLUDE_DEPTH = 10  # git's own limit

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
# Config keys (their last part) whose value is a command git runs; a path in it is code.
_PROGRAM_KEYS = frozenset({
    "fsmonitor", "editor", "pager", "sshcommand", "askpass", "program", "external", "textconv", "command",
    "clean", "smudge", "process", "driver", "helper", "difffilter", "packobjectshook",
})
_BOOLEANS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0", ""})


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
    global_values = _Values()
    for cfg in global_configs:
        _read_config(cfg, home, global_values, 0)
    for path in global_values.includes:
        places.add(path, False)
    for root in real_roots:
        if _looks_like_git_dir(root):
            # A git folder added as a root so that a linked worktree can commit into it.
            _add_git_dir(places, root, None, home, global_values, real_roots, shared=True)
        known = _KNOWN_POINTERS.setdefault(root, set())
        known.update(_walk_for_dot_git(root, places, bounded))
        known.difference_update([p for p in known if not os.path.lexists(p)])
        for pointer in sorted(known):
            places.pointers.add(pointer)
            _add_pointer(places, pointer, home, global_values, real_roots)
    return places


# root -> every `.git` entry found under it in this process; an entry goes only when it is gone.
_KNOWN_POINTERS: dict[Path, set[Path]] = {}


def remember_pointer(pointer: Path, roots: list[Path]) -> None:
    """Protect from now on a `.git` entry no walk finds (a gitlinked repository in node_modules/)."""
    pointer = Path(os.path.abspath(pointer))
    for root in (Path(os.path.realpath(r)) for r in roots):
        if pointer.parts[: len(root.parts)] == root.parts:
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


def _add_pointer(places: GitPlaces, pointer: Path, home: Path, global_values: _Values,
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
                 global_values: _Values, roots: list[Path], hops: int = 0, shared: bool = False) -> None:
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
    values = _Values()
    for name in ("config", "config.worktree"):
        _read_config(git_dir / name, home, values, 0)
    common = _read_commondir(git_dir)
    if common is not None and hops < 4 and Path(os.path.realpath(common)) not in places.git_dirs:
        _add_git_dir(places, common, worktree, home, global_values, roots, hops + 1, shared=True)
    for path in values.includes:
        places.add(path, False)
    hooks_active = _has_active_hooks(git_dir) or bool(values.hooks_paths or global_values.hooks_paths)
    if worktree is None:
        return
    for raw in [*values.hooks_paths, *global_values.hooks_paths]:
        _add_hooks_path(places, _resolve(raw, worktree, home), worktree, roots)
    for raw in [*values.programs, *global_values.programs]:
        program = _resolve(raw, worktree, home)
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


def _resolve(raw: str, base: Path, home: Path) -> Path:
    if raw.startswith("~/"):
        return Path(os.path.normpath(home / raw[2:]))
    return Path(os.path.normpath(os.path.join(base, raw)))


# --- reading git config (lenient: only files the model cannot write are read) -----------------


@dataclass
class _Values:
    includes: list[Path] = field(default_factory=list)
    hooks_paths: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)


def _read_config(path: Path, home: Path, values: _Values, depth: int) -> None:
    """Collect include targets (followed, every condition taken as true), hooksPath and program paths."""
    if depth > MAX_INCLUDE_DEPTH:
        return
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 20).decode("utf-8", "surrogateescape")
    except OSError:
        return
    for section, key, value in parse_config(text):
        if key == "path" and (section == "include" or section.startswith("includeif")):
            if not value or value.startswith("%("):
                continue
            target = _resolve(value, path.parent, home)
            values.includes.append(target)
            _read_config(target, home, values, depth + 1)
        elif section == "core" and key == "hookspath" and value:
            values.hooks_paths.append(value)
        elif key in _PROGRAM_KEYS or section == "alias":
            program = _program_path(value)
            if program:
                values.programs.append(program)


def _program_path(value: str) -> str | None:
    """The program of a command value when it is named by a path (contains a slash)."""
    value = value.lstrip("!").strip()
    if value.lower() in _BOOLEANS:
        return None
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    if words and "/" in words[0]:
        return words[0]
    return None


def parse_config(text: str) -> list[tuple[str, str, str]]:
    """(section lowercased incl. subsection, key lowercased, value) for each assignment.

    Follows git's syntax closely enough for files written by people and by git: comments,
    `[section "sub"]` and `[section.sub]` headers, quoted values with escapes, and
    backslash-newline continuation.
    """
    out: list[tuple[str, str, str]] = []
    section = ""
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(" \t\ufeff")
        i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            end = line.find("]")
            header = line[1:end] if end > 0 else line[1:]
            name, _, sub = header.strip().partition(" ")
            section = (name.lower() + ("." + sub.strip().strip('"') if sub else "")).strip()
            rest = line[end + 1:].strip() if end > 0 else ""
            if not rest or rest[0] in "#;":
                continue
            line = rest  # `[core] hooksPath = x` on one line
        key, eq, raw = line.partition("=")
        while raw.rstrip("\n").endswith("\\") and not raw.endswith("\\\\") and i < len(lines):
            raw = raw[:-1] + lines[i]
            i += 1
        out.append((section, key.strip().lower(), _unquote(raw) if eq else ""))
    return out


def _unquote(raw: str) -> str:
    value, quoted, i = [], False, 0
    raw = raw.strip()
    while i < len(raw):
        c = raw[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and i + 1 < len(raw):
            i += 1
            value.append({"n": "\n", "t": "\t", "b": "\b"}.get(raw[i], raw[i]))
        elif c in "#;" and not quoted:
            break
        else:
            value.append(c)
        i += 1
    return "".join(value).strip()


def gitlinks(index: Path) -> list[str]:
    """Paths the index records as gitlinks (submodules): git status recurses into each.

    Reads index versions 2 to 4 with SHA-1 ids; anything else yields nothing. Used after a
    command changed the index, so a repository hidden in a skipped folder (node_modules/x)
    that the command registered with `git add` is still found.
    """
    try:
        data = index.read_bytes()
    except OSError:
        return []
    if len(data) < 12 or data[:4] != b"DIRC":
        return []
    version, count = int.from_bytes(data[4:8], "big"), int.from_bytes(data[8:12], "big")
    if version not in (2, 3, 4):
        return []
    out: list[str] = []
    pos, previous = 12, b""
    for _ in range(count):
        if pos + 62 > len(data):
            break
        mode = int.from_bytes(data[pos + 24:pos + 28], "big")
        flags = int.from_bytes(data[pos + 60:pos + 62], "big")
        name_at = pos + 62 + (2 if version >= 3 and flags & 0x4000 else 0)
        if version == 4:
            strip, name_at = _varint(data, name_at)
            end = data.find(b"\0", name_at)
            if end < 0:
                break
            name = previous[: len(previous) - strip] + data[name_at:end]
            pos = end + 1
        else:
            end = data.find(b"\0", name_at)
            if end < 0:
                break
            name = data[name_at:end]
            pos = pos + ((end - pos + 8) & ~7)
        previous = name
        if mode & 0o170000 == 0o160000:
            out.append(os.fsdecode(name))
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    c = data[pos]
    pos += 1
    value = c & 127
    while c & 128 and pos < len(data):
        c = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (c & 127)
    return value, pos

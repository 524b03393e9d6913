"""Repositories a sandboxed command created: their config and hooks are the model's words.

`git init sub` and `git clone` are ordinary work in a monorepo, so a command may create a
git folder anywhere in the workspace; ketch cannot hold read-only every path where one
might appear. But everything in a git folder made during a command was written by the
model, and the user's `git status` (in `sub`, or in the outer repository once `sub` is a
gitlink in its index) or an IDE would run its `core.fsmonitor` or hooks outside the
sandbox. So after each command, every git folder that was not protected before it and was
written during it is checked strictly:

* its config files may hold only what `git init`, `git clone`, `git remote add`,
  `git branch --set-upstream-to` and `git config user.*` write (ALLOWED_KEYS), in plain
  syntax; anything else (an include, hooksPath, fsmonitor, a filter, an alias, a quoted
  or continued value, a line this checker does not understand) moves the whole file aside;
* its hooks folders may hold only git's `*.sample` files; any other file is moved aside;
* a `.git` file that points elsewhere has its target checked the same way.

Moved aside means renamed to `<name>.ketch-untrusted` next to itself, and said so in the
command's output: git then runs with defaults (it needs no config file), nothing is lost,
and the user can look. From the next command on, the repository is discovered and its
config and hooks are read-only like the workspace's own `.git/config`.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from ketch.security.git.index import gitlinks
from ketch.security.git.places import GIT_DIR_FILES, GitPlaces, discover, read_gitdir_pointer, remember_pointer

QUARANTINE_SUFFIX = ".ketch-untrusted"

# section -> keys; a section with a subsection ("remote \"origin\"") is named "remote.*".
ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "core": frozenset({"repositoryformatversion", "filemode", "bare", "logallrefupdates", "ignorecase",
                       "precomposeunicode", "symlinks", "autocrlf", "eol", "safecrlf", "quotepath",
                       "worktree"}),  # a submodule's own config names its checkout
    "remote.*": frozenset({"url", "pushurl", "fetch", "push", "tagopt", "prune", "mirror", "promisor",
                           "partialclonefilter"}),
    "branch.*": frozenset({"remote", "merge", "rebase", "pushremote", "description"}),
    "user": frozenset({"name", "email"}),
    "init": frozenset({"defaultbranch"}),
    "extensions": frozenset({"objectformat", "worktreeconfig", "partialclone"}),
    "pull": frozenset({"rebase", "ff"}),
    "push": frozenset({"default", "autosetupremote"}),
    "submodule.*": frozenset({"url", "active"}),
    "lfs": frozenset({"repositoryformatversion"}),
    "gc": frozenset({"auto"}),
    "advice": frozenset({"detachedhead"}),
}
_HEADER = re.compile(r'\[([A-Za-z0-9-]+)(?:\s+"([^"\\\n]*)")?\]')
_ASSIGN = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*([^\\\"]*))?")
# Transports that run a command (`ext::sh -c ...`) or talk to file descriptors.
_UNSAFE_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*::|^\s*-")


def config_problem(text: str) -> str | None:
    """Why a config file written during a command is not trusted, or None if it is plain."""
    section = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if not line or line[0] in "#;":
            continue
        header = _HEADER.fullmatch(line)
        if header:
            name = header.group(1).lower()
            section = f"{name}.*" if header.group(2) is not None else name
            if section not in ALLOWED_KEYS:
                return f"line {number}: section [{header.group(1)}] is not one git init, clone or remote add writes"
            continue
        assign = _ASSIGN.fullmatch(line)
        if not assign or section is None:
            return f"line {number} is not a plain `key = value`"
        key, value = assign.group(1).lower(), assign.group(2) or ""
        if key not in ALLOWED_KEYS[section]:
            return f"line {number}: {section.rstrip('.*')}.{key} is not a key git init, clone or remote add writes"
        if key in ("url", "pushurl") and _UNSAFE_URL.search(value):
            return f"line {number}: a remote URL that runs a command"
    return None


def audit_new_repositories(git_dirs: set[Path], pointers: set[Path], known: set[Path], since_ns: int) -> list[str]:
    """Check git folders not in `known` whose files changed at or after `since_ns`; notes of what moved."""
    notes: list[str] = []
    targets = set(git_dirs) | {t for p in pointers if (t := _pointer_target(p)) is not None}
    for git_dir in sorted(targets - known):
        notes += _audit_git_dir(git_dir, since_ns, depth=0)
    return notes


def _audit_git_dir(git_dir: Path, since_ns: int, depth: int) -> list[str]:
    notes: list[str] = []
    for name in GIT_DIR_FILES:
        path = git_dir / name
        if not _changed_since(path, since_ns):
            continue
        if name == "commondir":
            common = _commondir_target(path)
            if common is not None and depth < 4:
                notes += _audit_git_dir(common, since_ns, depth + 1)
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
        problem = "not UTF-8 text" if text is None else config_problem(text)
        if problem:
            notes += _quarantine(path, problem)
    notes += _audit_hooks(git_dir / "hooks", since_ns)
    # Submodules' and linked worktrees' own git folders, made by the same command.
    for sub in ("modules", "worktrees"):
        for child in _child_git_dirs(git_dir / sub):
            if depth < 4:
                notes += _audit_git_dir(child, since_ns, depth + 1)
    return notes


def _audit_hooks(folder: Path, since_ns: int) -> list[str]:
    notes: list[str] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return notes
    for name in names:
        path = folder / name
        if name.endswith((".sample", QUARANTINE_SUFFIX)) or not _changed_since(path, since_ns):
            continue
        notes += _quarantine(path, "a hook written by a sandboxed command")
    return notes


def _child_git_dirs(folder: Path) -> list[Path]:
    found: list[Path] = []
    stack = [(folder, 0)]
    while stack:
        current, depth = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        if any(e.name == "HEAD" for e in entries):
            found.append(current)
        for e in entries:
            if e.is_dir(follow_symlinks=False) and e.name not in ("objects", "refs", "logs") and depth < 6:
                stack.append((Path(e.path), depth + 1))
    return found


def _commondir_target(path: Path) -> Path | None:
    try:
        text = path.read_text(errors="surrogateescape").strip()
    except OSError:
        return None
    return Path(os.path.realpath(os.path.join(path.parent, text))) if text else None


def _changed_since(path: Path, since_ns: int) -> bool:
    """Whether the entry was created or changed at or after `since_ns` (ctime cannot be set back)."""
    try:
        return os.lstat(path).st_ctime_ns >= since_ns
    except OSError:
        return False


def _quarantine(path: Path, why: str) -> list[str]:
    aside = path.with_name(path.name + QUARANTINE_SUFFIX)
    try:
        if os.path.lexists(aside):
            os.unlink(aside)
        os.rename(path, aside)
    except OSError as exc:
        return [(f"ketch: {path} was written by this command and {why}; it could not be moved aside ({exc}). "
                 "Remove it before you run git there.")]
    return [f"ketch: moved {path} aside to {aside.name}: {why} (git there would run it outside the sandbox)."]


def audit_after_command(before: GitPlaces, roots: list[Path], home: Path, since_ns: int) -> list[str]:
    """After a sandboxed command: find git folders again and check the ones it made or changed.

    The walk here has no folder-count or depth bound: the walk before the command may have
    stopped at its bounds (a command can make 20,000 folders), and whatever it did not
    protect must be checked now. Folder listings are remembered by ctime
    (security.folder_listings), so this costs one `stat` per unchanged folder.

    Also follows gitlinks, recursively, from the index of every repository the command
    changed or that is checked here: the outer repository's `git status` recurses into each
    (node_modules/a -> node_modules/a/b) and runs its fsmonitor. A repository reached so was
    never protected (the walk skips node_modules/), so it is checked whatever its age and
    protected from the next call on.
    """
    after = discover(roots, home, bounded=False)
    known = set(before.git_dirs)
    notes = audit_new_repositories(after.git_dirs, after.pointers, known, since_ns)
    for known_dir in sorted(known):
        notes += _audit_worktree_admins(known_dir, since_ns)
    reached: set[Path] = set()
    for pointer in sorted(after.pointers | before.pointers):
        git_dir = _pointer_target(pointer)
        if git_dir is None:
            continue
        if git_dir in known and not _changed_since(git_dir / "index", since_ns):
            continue  # its gitlinks were followed when its index last changed
        notes += _audit_gitlinks(pointer.parent, git_dir, known, reached, roots, depth=0)
    notes += _unchecked_folders(after.unreadable, since_ns)
    return notes


MAX_GITLINK_DEPTH = 8


def _audit_gitlinks(worktree: Path, git_dir: Path, known: set[Path], reached: set[Path], roots: list[Path],
                    depth: int) -> list[str]:
    """Check every repository `git status` in `worktree` recurses into, and theirs in turn.

    Only repositories inside the writable roots: a hand-made index or `.git` file can name
    the user's other projects (`../../other`, `gitdir: ~/other/.git`), which no command
    could have written and whose hooks this check must not move.
    """
    notes: list[str] = []
    if depth >= MAX_GITLINK_DEPTH:
        return notes
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    for rel in gitlinks(git_dir / "index"):
        parts = rel.split("/")
        if rel.startswith("/") or any(part in ("", ".", "..", ".git") for part in parts):
            continue  # git itself refuses such index entries
        linked = worktree / rel / ".git"
        target = _pointer_target(linked)
        if target is None or target in reached or not _inside(target, real_roots) \
                or not _inside(Path(os.path.realpath(linked.parent)), real_roots):
            continue
        reached.add(target)
        if target not in known:
            notes += _audit_git_dir(target, 0, depth=0)
            remember_pointer(linked, roots)
        notes += _audit_gitlinks(linked.parent, target, known, reached, roots, depth + 1)
    return notes


def _inside(path: Path, real_roots: list[Path]) -> bool:
    return any(path.parts[: len(root.parts)] == root.parts for root in real_roots)


def _unchecked_folders(unreadable: list[Path], since_ns: int) -> list[str]:
    """Folders the walk could not read that the command changed: a repository may hide there."""
    notes: list[str] = []
    for folder in unreadable:
        try:
            changed = os.lstat(folder).st_ctime_ns >= since_ns
        except OSError as exc:
            changed = exc.errno == errno.ENAMETOOLONG  # only a command makes a path that long
        if changed:
            notes.append(f"ketch: could not look inside {folder} (changed by this command, and not readable) "
                         "for git config it may have written; look before you run git there.")
    return notes


def _pointer_target(pointer: Path) -> Path | None:
    """The real git folder a `.git` entry stands for: itself (or its link's target), or where its file points."""
    if os.path.isfile(pointer):
        target = read_gitdir_pointer(pointer)
        return Path(os.path.realpath(target)) if target is not None else None
    return Path(os.path.realpath(pointer)) if os.path.isdir(pointer) else None


def _audit_worktree_admins(git_dir: Path, since_ns: int) -> list[str]:
    """`git worktree add` inside a known repository: the new admin folder must point back home."""
    notes: list[str] = []
    try:
        admins = [Path(e.path) for e in os.scandir(git_dir / "worktrees") if e.is_dir(follow_symlinks=False)]
    except OSError:
        return notes
    for admin in admins:
        commondir = admin / "commondir"
        if _changed_since(commondir, since_ns) and _commondir_target(commondir) != git_dir:
            notes += _quarantine(commondir, "it points this worktree's git at another folder's config")
        config = admin / "config.worktree"
        if _changed_since(config, since_ns):
            try:
                problem = config_problem(config.read_bytes().decode("utf-8"))
            except (OSError, UnicodeDecodeError):
                problem = "not UTF-8 text"
            if problem:
                notes += _quarantine(config, problem)
    return notes

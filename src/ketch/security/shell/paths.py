"""Which files a shell command names, resolved the way the kernel will resolve them.

The file tools decide on canonical paths (symlinks resolved, containment on components);
a shell command must be decided the same way, or `cat docs/.env` through a repository
symlink `docs -> ../other-project` reads what `Read docs/.env` would have asked for
(DESIGN.md §5.3). So every word that may name a file is resolved from every folder the
shell may be in when it runs (the session's current folder, and each folder a `cd`
earlier on the line may have moved to), globs are expanded as bash would, and a value
attached to an option (`--file=x`, `-fx`) counts as a word of its own. A word whose value
is only known at run time (`$X`, `{a,b}`) may name anything: the caller treats it as
unknown. Nothing here decides a verdict; `Finding`s say what a path is.
"""

from __future__ import annotations

import glob
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ketch.security.protected import LazyProtectedSet, ProtectedSet
from ketch.security.shell.types import Word

HARMLESS_DEVICES = frozenset({"/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/zero", "/dev/tty"})
MAX_GLOB_MATCHES = 2_000
MAX_CWDS = 16
MAX_WALK = 20_000  # entries `links_below` looks at before it calls a folder unknowable
_GLOB_ONLY = re.compile(r"[^$`{}~]*")  # a glob with no other expansion in it (see `glob_matches`)

Kind = Literal["secret", "protected", "outside", "unknown", "inside"]


@dataclass(frozen=True)
class Finding:
    """What one word, taken as a path, turned out to be: the worst of its resolutions."""

    kind: Kind
    word: str
    path: str = ""


_RANK = {"inside": 0, "outside": 1, "unknown": 1, "protected": 2, "secret": 3}


def worst(findings: Iterable[Finding]) -> Finding | None:
    best: Finding | None = None
    for f in findings:
        if f.kind != "inside" and (best is None or _RANK[f.kind] > _RANK[best.kind]):
            best = f
    return best


def is_inside(path: str, root: str) -> bool:
    """Containment on canonical path components (never a string prefix)."""
    p, r = Path(path).parts, Path(root).parts
    return len(p) >= len(r) and p[: len(r)] == r


@dataclass
class PathPolicy:
    """The roots a command may touch, the user's home, and the never-read/never-write lists."""

    roots: list[Path]
    home: Path
    protected: ProtectedSet | LazyProtectedSet | None = None

    def __post_init__(self) -> None:
        self._roots = [os.path.realpath(r) for r in self.roots]

    def inside(self, real: str) -> bool:
        return any(is_inside(real, r) for r in self._roots)

    # -- resolving ---------------------------------------------------------------------------

    def candidates(self, value: str, cwds: Iterable[str]) -> list[str]:
        """Canonical paths a literal word means from each possible current folder.

        A literal `~/x` was quoted (bash expands only an unquoted tilde), so it names a
        folder called `~`; it is checked as the home too, which only errs towards asking.
        """
        out = []
        for cwd in cwds:
            out.append(os.path.realpath(os.path.join(cwd, value)))
        if value == "~" or value.startswith("~/"):
            out.append(os.path.realpath(str(self.home) + value[1:]))
        return out

    def classify(self, value: str, cwds: Iterable[str], *, write: bool = False) -> Finding:
        """The worst of what `value` names from any of the folders."""
        if "\x00" in value:
            return Finding("unknown", value)
        if value in HARMLESS_DEVICES:
            return Finding("inside", value)
        found = []
        for real in self.candidates(value, cwds):
            found.append(Finding(self._kind(real, write), value, real))
        return worst(found) or Finding("inside", value)

    def _kind(self, real: str, write: bool) -> Kind:
        path = Path(real)
        if self.protected is not None:
            if self.protected.blocks_read(path):
                return "secret"
            if write and self.protected.blocks_write(path):
                return "protected"
        if real in HARMLESS_DEVICES:
            return "inside"
        return "inside" if self.inside(real) else "outside"

    # -- words -------------------------------------------------------------------------------

    def word_values(self, word: Word, cwds: list[str]) -> list[str] | None:
        """The literal values a word becomes (a glob expanded), or None when unknowable."""
        if word.literal:
            return [word.value]
        value = word.value
        if value == "~" or value.startswith("~/"):  # bash's own tilde: the home folder
            value = str(self.home) + value[1:]
        return glob_matches(value, cwds)

    def word_finding(self, word: Word, cwds: list[str], *, attached: bool = True) -> Finding | None:
        """Is any path this word may name outside the roots, secret, or unknowable?

        With `attached`, an option word's value is checked too: `--file=x` names `x`, and
        `-fx` may name `x` (or `fx`: every tail of a short-option cluster that could be a
        path is tried, since which letters take a value depends on the program).
        """
        values = self.word_values(word, cwds)
        if values is None:
            return Finding("unknown", word.value) if may_name_path(word.value) else None
        findings = []
        for value in values:
            for piece in self.path_pieces(value, cwds) if attached else [value]:
                findings.append(self.classify(piece, cwds))
        return worst(findings)

    def links_below(self, values: Iterable[str], cwds: list[str]) -> Finding | None:
        """The worst place a symbolic link below any of the folders `values` leads to, for a
        program that reads through such links (`grep -R`); "unknown" past MAX_WALK entries.

        Linked folders that stay inside are walked too (the program descends into them), each
        real folder once."""
        todo = [real for v in values for real in self.candidates(v, cwds) if os.path.isdir(real)]
        seen: set[str] = set()
        findings: list[Finding] = []
        count = 0
        while todo:
            folder = todo.pop()
            if folder in seen:
                continue
            seen.add(folder)
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            count += len(entries)
            if count > MAX_WALK:
                return Finding("unknown", f"the {MAX_WALK:,}+ files below {folder}")
            for entry in entries:
                if entry.is_symlink():
                    real = os.path.realpath(entry.path)
                    findings.append(Finding(self._kind(real, False), entry.path, real))
                    if os.path.isdir(real) and self.inside(real):
                        todo.append(real)
                elif entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
        return worst(findings)

    def path_pieces(self, value: str, cwds: list[str]) -> list[str]:
        """The parts of a word that may name a file: itself, or an option's attached value."""
        if not value.startswith("-") or value == "-":
            return [value]
        if value.startswith("--"):
            return [value.split("=", 1)[1]] if "=" in value else []
        tails = [value[k:] for k in range(2, len(value))]
        if "=" in value:
            tails.append(value.split("=", 1)[1])
        return [t for t in tails if "/" in t or t.startswith((".", "~")) or _exists(t, cwds)]


def _exists(value: str, cwds: list[str]) -> bool:
    return any(os.path.lexists(os.path.join(cwd, value)) for cwd in cwds)


def may_name_path(value: str) -> bool:
    """Could an expansion we cannot evaluate become a path outside? (`*.py` cannot.)"""
    return "/" in value or value.startswith(("~", "{", "$", "`")) or ".." in value or "$" in value


def glob_matches(pattern: str, cwds: list[str]) -> list[str] | None:
    """What bash makes of an unquoted glob in each folder: the matches, or the pattern itself
    when nothing matches. None when the word holds other expansions (`$X`, `{a,b}`, `~`) or
    more matches than are worth checking.

    Dot files are matched too (bash would not, unless `dotglob` is set): a superset only
    means more paths checked. Extended globs (`@(...)`) are not evaluated: unknown.
    """
    if not _GLOB_ONLY.fullmatch(pattern) or re.search(r"[@+!?*]\(", pattern):
        return None
    out: dict[str, None] = {}
    for cwd in cwds:
        if sys.version_info < (3, 11):  # no include_hidden: do not guess
            return None
        try:
            found = glob.glob(pattern, root_dir=cwd, include_hidden=True)
        except (OSError, ValueError, re.error):
            return None
        for match in found[: MAX_GLOB_MATCHES + 1]:
            out[match] = None
        if len(out) > MAX_GLOB_MATCHES:
            return None
    return list(out) or [pattern]


def cd_targets(value: str, cwds: list[str]) -> list[str]:
    """Where `cd value` may land from each folder: bash's logical path (`a/..` taken
    textually) and the physical one (the kernel's), both canonical."""
    out: dict[str, None] = {}
    for cwd in cwds:
        joined = os.path.join(cwd, value)
        out[os.path.realpath(os.path.normpath(joined))] = None
        out[os.path.realpath(joined)] = None
    return list(out)

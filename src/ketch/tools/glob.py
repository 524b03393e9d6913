"""Glob: find files by name, gitignore-aware, newest first.

ripgrep lists the files (it knows .gitignore, .ignore and friends); the model's pattern
is matched here, not by rg, for two reasons: rg's `--glob` overrides ignore rules, and
its gitignore-style semantics (`*.py` matching at any depth) differ from the shell-glob
semantics models expect from Claude Code (`*.py` top level only, `**/*.py` anywhere).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from ketch.conversation import ToolDef
from ketch.tools.base import ToolContext, ToolError, ToolKind, ToolResult, load_definition, read_only_runner
from ketch.tools.paths import missing, resolve
from ketch.tools.ripgrep import find_rg, mtime
from ketch.tools.validate import require_valid

MAX_RESULTS = 100
RG_TIMEOUT_S = 60.0
# Enough for a listing of ~1M files; far more than any match list a model can use.
LISTING_MAX_CHARS = 64_000_000
_MAX_BRACE_EXPANSIONS = 256


@cache
def _magic() -> re.Pattern[str]:
    """Compiled at first use: only a Glob call needs it."""
    return re.compile(r"[*?\[{]")


# --- glob to regex -----------------------------------------------------------------


def expand_braces(pattern: str) -> list[str]:
    """`a{b,c{d,e}}` -> [ab, acd, ace]; braces without a top-level comma stay literal."""
    out: list[str] = []
    todo = [pattern]
    while todo:
        current = todo.pop()
        found = _first_brace(current)
        if found is None:
            out.append(current)
        else:
            start, end, options = found
            todo.extend(current[:start] + option + current[end + 1 :] for option in reversed(options))
        if len(out) + len(todo) > _MAX_BRACE_EXPANSIONS:
            raise ToolError(f"pattern expands to more than {_MAX_BRACE_EXPANSIONS} alternatives; simplify it")
    return out


def _first_brace(pattern: str) -> tuple[int, int, list[str]] | None:
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            close = _class_end(pattern, i)
            if close > 0:
                i = close + 1
                continue
        if ch == "{":
            parsed = _brace_options(pattern, i)
            if parsed is not None:
                return i, parsed[0], parsed[1]
        i += 1
    return None


def _brace_options(pattern: str, start: int) -> tuple[int, list[str]] | None:
    """(index of the matching `}`, the comma-separated options) or None if not a group."""
    depth = 0
    options: list[str] = []
    piece_start = start + 1
    i = start + 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                if not options:
                    return None  # `{a}` has no alternatives: literal, as in bash
                options.append(pattern[piece_start:i])
                return i, options
            depth -= 1
        elif ch == "," and depth == 0:
            options.append(pattern[piece_start:i])
            piece_start = i + 1
        i += 1
    return None


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the class opened at `start`, or -1 if it never closes."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a leading `]` is a member, not the end
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return -1


def _translate(pattern: str) -> str:
    """Regex source for one brace-free glob, matched against a `/`-separated relative path."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            at_segment_start = i == 0 or pattern[i - 1] == "/"
            if j - i >= 2 and at_segment_start and (j == n or pattern[j] == "/"):
                if j == n:
                    out.append(".*")  # trailing `**`: everything below
                    i = j
                else:
                    out.append("(?:.*/)?")  # `**/`: zero or more directories
                    i = j + 1
                continue
            out.append("[^/]*")
            i = j
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            close = _class_end(pattern, i)
            if close < 0:
                out.append(re.escape(ch))
                i += 1
                continue
            body = pattern[i + 1 : close]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            members = "".join("\\" + c if c in "\\^[]" else c for c in body.replace("\\", ""))
            out.append(f"[^/{members}]" if negate else f"(?!/)[{members}]")
            i = close + 1
        elif ch == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex that full-matches the relative paths `pattern` selects.

    Semantics: `*` and `?` stay within one path segment, `**/` spans any number of
    directories including none, `[...]` is a class (`[!...]` negated), `{a,b}` is
    alternation (nestable). Dotfiles are not special: hidden files match like any other.
    """
    sources = [_translate(p) for p in expand_braces(pattern)]
    try:
        return re.compile("(?:" + "|".join(sources) + ")", re.DOTALL)
    except re.error as exc:  # e.g. a reversed range such as [z-a]
        raise ToolError(f"invalid glob pattern {pattern!r}: {exc}") from None


def split_base(pattern: str) -> tuple[str, str]:
    """Split the leading literal directories off a pattern: `src/**/*.py` -> (`src`, `**/*.py`).

    Listing only under the literal prefix is what makes `src/x/*.py` fast in a big tree,
    and it lets absolute or `../` patterns work. A fully literal pattern keeps its last
    segment as the pattern.
    """
    parts = pattern.split("/")
    literal: list[str] = []
    for part in parts[:-1]:
        if _magic().search(part) or "\\" in part:
            break
        literal.append(part)
    rest = "/".join(parts[len(literal) :])
    base = "/".join(literal) if literal else ""
    if pattern.startswith("/") and not base:
        base = "/"
    return base, rest


# --- the tool ----------------------------------------------------------------------


def list_files(ctx: ToolContext, root: Path) -> list[str]:
    """Relative paths of the non-ignored files under `root`, as ripgrep sees them."""
    argv = [find_rg(), "--files", "--hidden", "--no-config", "--no-messages", "--null", "--glob=!.git"]
    try:
        result = read_only_runner(ctx.runner)(argv, cwd=root, timeout_s=RG_TIMEOUT_S, cancel=ctx.cancel, max_output_chars=LISTING_MAX_CHARS)
    except OSError as exc:
        raise ToolError(f"Could not run ripgrep: {exc.strerror or exc}") from None
    if result.timed_out:
        raise ToolError(f"Listing files under {root} took over {RG_TIMEOUT_S:g} s; give a narrower path or pattern")
    if result.cancelled:
        raise ToolError("Cancelled")
    return [name.removeprefix("./") for name in result.output.split("\0") if name]


def _root(input: dict[str, Any], ctx: ToolContext) -> tuple[Path, str]:
    """(the folder listed, the pattern below it) for a call."""
    pattern = input.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise ToolError("pattern is empty")
    raw_path = input.get("path")
    if raw_path in (None, "", "undefined", "null"):
        raw_path = str(ctx.workspace)
    base, rest = split_base(pattern.strip().removeprefix("./"))
    return resolve(os.path.join(raw_path, base) if base else raw_path, ctx.workspace), rest


class GlobTool:
    name = "Glob"
    kind: ToolKind = "read"

    def definition(self) -> ToolDef:
        return load_definition(self.name)

    def paths(self, input: dict[str, Any], ctx: ToolContext) -> list[Path]:
        """The folder this call lists: `path` joined with the pattern's literal folders, so the
        gate checks `../other` for `pattern="../other/*"` (not only the `path` argument)."""
        return [_root(input, ctx)[0]]

    def run(self, input: dict[str, Any], ctx: ToolContext) -> ToolResult:
        require_valid(self.name, self.definition().input_schema, input)
        root, rest = _root(input, ctx)
        if not os.path.isdir(root):
            if os.path.exists(root):
                raise ToolError(f"Search directory {root} is not a directory")
            raise ToolError(f"Search directory does not exist: {missing(root, ctx.workspace)}")
        regex = compile_glob(rest)
        matches = [os.path.join(root, rel) for rel in list_files(ctx, root) if regex.fullmatch(rel)]
        if not matches:
            return ToolResult("No files found")
        stamped = sorted(((mtime(p), p) for p in matches), key=lambda item: (-item[0], item[1]))
        shown = [p for _, p in stamped[:MAX_RESULTS]]
        if len(stamped) > MAX_RESULTS:
            shown.append(
                f"(Showing the {MAX_RESULTS} most recently modified of {len(stamped)} files; "
                "use a more specific path or pattern to see the rest.)"
            )
        return ToolResult("\n".join(shown))

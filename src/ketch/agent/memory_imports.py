"""`@path` imports in memory files, as Claude Code reads them in CLAUDE.md.

`@docs/style.md` (relative to the file that says it) or `@~/notes/me.md` (the person's home)
brings that file's text in after the importing file's; imported files may import in turn, up
to MAX_DEPTH hops. Text in a code span or a fenced code block is not an import (`` `@x` ``
stays words). An import that is not there is words too, silently: `@someone` in prose.

Every imported file is a prompt file like the memory file itself (security.prompt_files): a
project's memory may import only files whose real path is inside the project (a link to
`~/.ssh/id_rsa` named `style.md` is refused, with a notice), and only the person's own user
memory may import from their home (`@~/...`). Each file is capped, and so is their number.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MAX_DEPTH = 5
MAX_IMPORT_BYTES = 64 * 1024
MAX_IMPORTS = 20


@cache
def _import_token() -> re.Pattern[str]:
    return re.compile(r"(?:^|(?<=\s))@((?:[^\s\\`]|\\ )+)")


@cache
def _code_span() -> re.Pattern[str]:
    return re.compile(r"(`+).*?\1")


@dataclass
class ImportScope:
    """Where imports may come from: `root` (the project, or ketch's home for the user's memory)
    and, for the user's own memory only, `home` for `@~/...`."""

    root: Path
    home: Path | None = None
    notices: list[str] | None = None
    seen: set[str] = field(default_factory=set)
    count: int = 0


def import_paths(text: str) -> list[str]:
    """The `@path` tokens of `text` outside code spans and fenced code blocks, in order."""
    found: list[str] = []
    fence = ""
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        if len(line) - len(stripped) < 4 and stripped[:3] in ("```", "~~~"):
            marker = stripped[:3]
            fence = "" if fence == marker else (fence or marker)
            continue
        if fence:
            continue
        for token in _import_token().findall(_code_span().sub(" ", line)):
            found.append(token.replace("\\ ", " "))
    return found


def expand_imports(text: str, path: Path, scope: ImportScope, depth: int = 0) -> str:
    """`text` (the file `path`'s) followed by the text of each file it imports, recursively."""
    from ketch.security.prompt_files import Refused, read_prompt_file

    scope.seen.add(os.path.realpath(path))
    parts = [text.rstrip()]
    for token in import_paths(text):
        target, root = _resolve(token, path.parent, scope)
        if target is None or root is None or not os.path.isfile(target):
            continue  # not a file: prose, an address, a handle
        real = os.path.realpath(target)
        if real in scope.seen:
            continue
        if depth + 1 > MAX_DEPTH or scope.count >= MAX_IMPORTS:
            _tell(scope, f"@{token} in {path} as instructions (more than {MAX_DEPTH} levels or "
                         f"{MAX_IMPORTS} imports)")
            continue
        imported = read_prompt_file(target, root, max_bytes=MAX_IMPORT_BYTES)
        if isinstance(imported, Refused):
            _tell(scope, f"@{token} in {path} as instructions ({imported.reason})")
            continue
        if imported is None:
            continue
        scope.count += 1
        body = expand_imports(imported.strip(), target, scope, depth + 1)
        parts.append(f"(imported from @{token})\n{body}")
    return "\n\n".join(parts)


def _resolve(token: str, base: Path, scope: ImportScope) -> tuple[Path | None, Path | None]:
    """(the file an import names, the folder it must really be in), or (None, None) if it may not import."""
    if token.startswith("~"):
        if scope.home is None or not token.startswith("~/"):
            return None, None  # `@~/...` only from the person's own memory
        return scope.home / token[2:], scope.home
    target = Path(token) if os.path.isabs(token) else base / token
    if scope.home is not None and not _inside(Path(os.path.realpath(target)), Path(os.path.realpath(scope.root))):
        return target, scope.home  # the user's memory may name files anywhere in their home
    return target, scope.root


def _inside(path: Path, root: Path) -> bool:
    return path.parts[: len(root.parts)] == root.parts


def _tell(scope: ImportScope, line: str) -> None:
    if scope.notices is not None:
        scope.notices.append(line)

"""Refuse a change that would leave a file that parsed unparseable (issue 16).

A small model's Edit often drops a colon or a closing bracket, and everything after it fails
in a way the model cannot trace back to its own edit. Checking before the write costs a parse
(~20 ms for a 5,000-line Python file) and turns that into one error naming the line, the
parser's words and the text around it, with the file untouched. A file that did not parse
before is left alone: the model may be in the middle of fixing it. Parsers are the standard
library's (and PyYAML's, only if it is already installed): no dependency is added for this.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from ketch.tools.base import ToolError
from ketch.tools.files import format_line

MAX_GUARDED_CHARS = 2_000_000  # bigger files are generated or data: not worth a parse on every edit
# libyaml's composer recurses in C once per level: ~50,000 nested `[` overflow the stack and kill
# ketch with SIGSEGV (a hostile repository's file, a hijacked model's Write). Deeper is not checked.
MAX_YAML_NESTING = 1000
_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


@dataclass
class ParseProblem:
    line: int  # 1-based; 0 when the parser gave no position
    column: int  # 1-based; 0 when unknown
    message: str


def _python(text: str) -> ParseProblem | None:
    # compile, not just ast.parse: it also catches 'return' outside a function and the like.
    # dont_inherit: the file's own `from __future__` lines count, never ketch's.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are warnings, not breakage
            compile(text, "<edit>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return ParseProblem(exc.lineno or 0, exc.offset or 0, exc.msg or "invalid syntax")
    except ValueError as exc:  # a NUL character
        return ParseProblem(0, 0, str(exc))
    except (RecursionError, MemoryError):  # nested too deep for the parser ("s_push: parser stack overflow")
        return None  # not a syntax verdict
    return None


def _json(text: str) -> ParseProblem | None:
    import json

    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return ParseProblem(exc.lineno, exc.colno, exc.msg)
    except RecursionError:
        return None  # nested too deep for Python's parser; not a syntax verdict
    return None


def _optional(module: str) -> Any:
    """A parser module if this Python has it (tomllib is 3.11's, PyYAML is never required), else None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _toml(text: str) -> ParseProblem | None:
    tomllib = _optional("tomllib")
    if tomllib is None:
        return None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_WHERE.search(message)
        if where is None:
            return ParseProblem(0, 0, message)
        return ParseProblem(int(where.group(1)), int(where.group(2)), message[: where.start()])
    except RecursionError:  # nested too deep for tomllib: not a syntax verdict
        return None
    return None


def _nesting_bound(text: str) -> int:
    """At least how deep YAML can nest in `text`: its deepest indentation plus its deepest bracket
    nesting (brackets inside strings counted too: an over-estimate only skips the check)."""
    indent = max((len(m) for m in re.findall(r"^[ \t]*", text, re.MULTILINE)), default=0)
    brackets = re.sub(r"[^\[\]{}]", "", text)
    if indent + len(brackets) <= MAX_YAML_NESTING:  # the common case: no need to walk them
        return indent + len(brackets)
    return indent + max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def _yaml(text: str) -> ParseProblem | None:
    yaml = _optional("yaml")
    if yaml is None or _nesting_bound(text) > MAX_YAML_NESTING:
        return None
    try:
        # Composed, not constructed: syntax only, so custom tags (`!Ref`) are not errors.
        for _ in yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        return ParseProblem(mark.line + 1, mark.column + 1, message) if mark else ParseProblem(0, 0, message)
    except yaml.YAMLError as exc:
        return ParseProblem(0, 0, str(exc).splitlines()[0] if str(exc) else "invalid YAML")
    except RecursionError:  # the pure-Python loader, nested too deep: not a syntax verdict
        return None
    return None


_PARSERS: dict[str, tuple[str, Callable[[str], ParseProblem | None]]] = {
    ".py": ("Python", _python),
    ".pyi": ("Python", _python),
    ".pyw": ("Python", _python),
    ".json": ("JSON", _json),
    ".ipynb": ("JSON", _json),
    ".toml": ("TOML", _toml),
    ".yaml": ("YAML", _yaml),
    ".yml": ("YAML", _yaml),
}


def language(path: Path) -> str | None:
    """The language the guard checks `path` as, or None if it does not check it."""
    entry = _PARSERS.get(path.suffix.lower())
    return entry[0] if entry else None


def problem(path: Path, text: str) -> ParseProblem | None:
    """Why `text` does not parse as `path`'s language; None if it does (or is not checked)."""
    entry = _PARSERS.get(path.suffix.lower())
    if entry is None or not text.strip():
        return None  # an empty file is a fine placeholder in every one of these languages
    return entry[1](text)


def check_syntax(tool: str, path: Path, before: str | None, after: str) -> None:
    """Raise ToolError if `after` would not parse although `before` did (or the file is new).

    `before` is None (or blank) for a new file. Files over MAX_GUARDED_CHARS are not checked.
    """
    entry = _PARSERS.get(path.suffix.lower())
    if entry is None or len(after) > MAX_GUARDED_CHARS or (before is not None and len(before) > MAX_GUARDED_CHARS):
        return
    found = problem(path, after)
    if found is None:
        return
    if before is not None and before.strip() and problem(path, before) is not None:
        return  # it did not parse before either: the model may be fixing it step by step
    raise ToolError(refusal(tool, path, entry[0], found, after, new=before is None or not before.strip()))


def refusal(tool: str, path: Path, lang: str, found: ParseProblem, after: str, *, new: bool) -> str:
    """The message: what, where, the parser's words, the new text around the spot, what to do."""
    would = "would not parse" if new else "would no longer parse"
    where = f"line {found.line}, col {found.column}: " if found.line and found.column else (
        f"line {found.line}: " if found.line else "")
    head = f"{tool} refused: {path} {would} as {lang}: {where}{found.message}. Nothing was written."
    lines = after.split("\n")
    if not found.line or not lines:
        return f"{head} {_advice(tool)}"
    spot = min(max(found.line, 1), len(lines))
    first, last = max(spot - 1, 1), min(spot + 1, len(lines))
    shown = []
    for number in range(first, last + 1):
        shown.append(format_line(number, lines[number - 1].rstrip("\r")))
        if number == spot and found.column and found.line <= len(lines):
            before_spot = lines[number - 1][: found.column - 1]
            shown.append(" " * 6 + "\t" + "".join(c if c == "\t" else " " for c in before_spot) + "^")
    return f"{head} The lines around it would have been:\n" + "\n".join(shown) + f"\n{_advice(tool)}"


def _advice(tool: str) -> str:
    field = "content" if tool == "Write" else "new_string"
    return f"Fix the {field} so the file stays valid (check brackets, quotes, colons and indentation), then retry."

"""Markdown for one finished line of prose (and for a finished table), as rich Text.

The REPL streams prose raw and, once a line is complete, may draw that one line again
styled (`Renderer`); so styling works a line at a time and never needs what came before.
Inline parsing is markdown-it-py's (rich already depends on it), which knows that
`snake_case_name` is not emphasis and that `\\*` is a literal star. It is imported on the
first line that looks like it has markup, not before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_BULLET = re.compile(r"^(\s*)[-*+]\s+(?:\[([ xX])\]\s+)?(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d{1,9})([.)])\s+(.*)$")
_QUOTE = re.compile(r"^(\s*)>\s?(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_INLINE_HINT = re.compile(r"[*_`~\[<\\]")
_STYLES = {"strong": "bold", "em": "italic", "s": "strike", "link": "underline"}


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("strikethrough")


def inline(text: str, base_style: str = "") -> Any:
    """`**b**`, `*i*`, `` `code` ``, `~~s~~` and links as styles; everything else as written."""
    from rich.text import Text

    out = Text(style=base_style)
    if not _INLINE_HINT.search(text):
        out.append(text)
        return out
    tokens = _parser().parseInline(text)
    children = tokens[0].children if tokens and tokens[0].children else []
    open_styles: list[str] = []
    href_stack: list[str] = []
    for token in children:
        kind = token.type
        if kind.endswith("_open") and kind[:-5] in _STYLES:
            open_styles.append(_STYLES[kind[:-5]])
            if kind == "link_open":
                href_stack.append(str(token.attrs.get("href", "")))
        elif kind.endswith("_close") and kind[:-6] in _STYLES:
            if open_styles:
                open_styles.pop()
            if kind == "link_close" and href_stack:
                href = href_stack.pop()
                if href and not out.plain.endswith(href):
                    out.append(f" ({href})", style="dim")
        elif kind == "code_inline":
            out.append(token.content, style=" ".join(open_styles + ["cyan"]))
        elif kind in ("softbreak", "hardbreak"):
            out.append(" ")
        elif kind == "image":
            out.append(f"[image: {token.content}]", style="dim")
        else:  # text, html_inline, anything new: shown as written
            out.append(token.content, style=" ".join(open_styles))
    return out


def style_line(line: str, width: int = 80) -> Any | None:
    """The line as styled Text, or None when it has no markdown (nothing to redraw)."""
    from rich.text import Text

    if _RULE.match(line):
        return Text("─" * max(3, min(width, 60)), style="dim")
    match = _BULLET.match(line)
    if match:
        indent, task, rest = match.groups()
        mark = {None: "• ", " ": "☐ ", "x": "☑ ", "X": "☑ "}[task]
        return Text(indent + mark) + inline(rest)
    match = _NUMBERED.match(line)
    if match:
        indent, number, dot, rest = match.groups()
        return Text(f"{indent}{number}{dot} ", style="bold") + inline(rest)
    match = _QUOTE.match(line)
    if match:
        indent, rest = match.groups()
        return Text(indent + "▌ ", style="dim") + inline(rest, "italic")
    styled = inline(line)
    if styled.plain == line and not styled.spans:
        return None
    return styled


def is_table_line(line: str) -> bool:
    return line.lstrip().startswith("|")


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body.removeprefix("|")
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


_SEPARATOR_CELL = re.compile(r"^:?-{1,}:?$")


def table(lines: list[str]) -> Any | None:
    """A GitHub-style table as a rich Table; None when the lines are not one (print them as is)."""
    if len(lines) < 2:
        return None
    header, separator = _cells(lines[0]), _cells(lines[1])
    if len(separator) != len(header) or not all(_SEPARATOR_CELL.match(c.replace(" ", "")) for c in separator):
        return None
    from rich import box
    from rich.table import Table

    justify = {(True, True): "center", (False, True): "right"}
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    for name, spec in zip(header, separator):
        spec = spec.replace(" ", "")
        grid.add_column(inline(name, "bold"),
                        justify=justify.get((spec.startswith(":"), spec.endswith(":")), "left"))  # type: ignore[arg-type]
    for line in lines[2:]:
        row = _cells(line)
        row = (row + [""] * len(header))[: len(header)]
        grid.add_row(*[inline(cell) for cell in row])
    return grid

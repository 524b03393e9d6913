"""The tree-sitter-bash parser, and the checks that the tree means what bash would run.

tree-sitter-bash is an approximation of bash. Before a tree is trusted, every byte of the
line must be accounted for by a node or be blank space: text the parser skipped is text
bash might execute. Line continuations (backslash-newline) that join two tokens are removed
first, as bash does, because the parser would split `r\\<newline>m` into `r` and `m`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_lock = threading.Lock()
_language: Any = None
_local = threading.local()  # a tree-sitter Parser must not be shared between threads


# tree-sitter-bash's external scanner hands code points to <ctype.h> isdigit/isalpha, whose
# table covers -128..255: after a `{` (`x{中`, `{1..\U000f0000`) a code point past U+00FF reads
# out of bounds, and the process dies of SIGSEGV (no `except` catches it) when that lands outside
# the mapped table: often from plane 8 up, now and then for a CJK ideograph of plane 2. Such a
# character (2 to 4 bytes of UTF-8) is shown to the parser as as many ASCII letters: to bash both
# are plain word characters, and every byte offset stays the same.
_PAST_LATIN1 = re.compile(rb"[\xc4-\xf4][\x80-\xbf]+")

# Nodes whose text is data (not tokens): checked as a whole, never looked into for gaps.
OPAQUE = frozenset({"heredoc_body", "comment", "raw_string", "ansi_c_string", "string_content",
                    "heredoc_content"})


def parser() -> Any:
    """This thread's tree-sitter parser; the grammar is loaded once, on first use (never at import)."""
    found = getattr(_local, "parser", None)
    if found is not None:
        return found
    global _language
    import tree_sitter

    with _lock:
        if _language is None:
            import tree_sitter_bash

            _language = tree_sitter.Language(tree_sitter_bash.language())
    _local.parser = tree_sitter.Parser(_language)
    return _local.parser


class Source:
    """The line as bytes for the parser and as text for us, with offset conversion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self._ascii = len(self.data) == len(text)
        self._chars: list[int] | None = None

    def char(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        if self._chars is None:
            table, pos = [0] * (len(self.data) + 1), 0
            for index, ch in enumerate(self.text):
                width = len(ch.encode("utf-8"))
                for k in range(width):
                    table[pos + k] = index
                pos += width
            table[pos] = len(self.text)
            self._chars = table
        return self._chars[byte_offset]

    def slice(self, node: Any) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def between(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")


def leaves(root: Any) -> list[Any]:
    """Leaf nodes in document order (opaque nodes count as leaves)."""
    out: list[Any] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.child_count == 0 or node.type in OPAQUE:
            if node.end_byte > node.start_byte:
                out.append(node)
            continue
        stack.extend(reversed(node.children))
    return out


def gaps(root: Any, data: bytes) -> tuple[list[tuple[int, int]], bool]:
    """Continuations to remove (byte ranges), and whether some gap holds unaccounted text."""
    removals: list[tuple[int, int]] = []
    bad = False
    prev_end, prev_type = 0, ""
    items = leaves(root)
    bounds = [(leaf.start_byte, leaf.end_byte, leaf.type) for leaf in items] + [(len(data), len(data), "")]
    for start, end, kind in bounds:
        if start < prev_end:
            bad = True  # overlapping leaves: the tree is not a clean tiling
            prev_end = max(prev_end, end)
            continue
        i = prev_end
        while i < start:
            ch = data[i:i + 1]
            if ch in (b" ", b"\t"):
                i += 1
            elif ch == b"\n":
                if i == prev_end and i > 0 and data[i - 1:i] == b"\\" and prev_type != "comment":
                    bad = True  # a token ending in a backslash right before a newline
                i += 1
            elif ch == b"\\" and data[i + 1:i + 2] == b"\n":
                run = 0
                while i - run - 1 >= 0 and data[i - run - 1:i - run] == b"\\":
                    run += 1
                if run % 2:
                    bad = True  # this backslash is itself escaped
                removals.append((i, i + 2))
                i += 2
            else:
                bad = True
                i += 1
        prev_end, prev_type = max(prev_end, end), kind
    return removals, bad


def remove_ranges(data: bytes, ranges: list[tuple[int, int]]) -> bytes:
    out, pos = [], 0
    for start, end in ranges:
        out.append(data[pos:start])
        pos = end
    out.append(data[pos:])
    return b"".join(out)


def _parse_bytes(data: bytes) -> Any:
    """The tree for `data`, with each character past U+00FF given to the parser as ASCII letters."""
    if data.isascii():
        return parser().parse(data)
    return parser().parse(_PAST_LATIN1.sub(lambda m: b"a" * len(m.group()), data))


def parse(text: str) -> tuple[Source, Any, list[str]]:
    """Parse, removing token-joining line continuations first; problems found on the way."""
    problems: list[str] = []
    source = Source(text)
    tree = _parse_bytes(source.data)
    removals, bad = gaps(tree.root_node, source.data)
    if removals and not bad:
        joined = remove_ranges(source.data, removals).decode("utf-8", "replace")
        source = Source(joined)
        tree = _parse_bytes(source.data)
        removals, bad = gaps(tree.root_node, source.data)
        if removals:
            bad = True
    if bad:
        problems.append("parse error")
    return source, tree, problems

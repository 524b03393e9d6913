"""Does a GBNF grammar accept a text? For tests of the reply grammars without a model: the grammar is
translated into one Python regular expression (rules inlined, recursion cut at a depth), which is
enough for the shapes ketch writes (literals, character classes, groups, alternation, ?, *, +)."""

from __future__ import annotations

import json
import re

_TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]|[()|?*+]|[a-zA-Z0-9-]+')


def _rules(grammar: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    name = None
    for line in grammar.splitlines():
        if "::=" in line and re.match(r"^[a-zA-Z0-9-]+\s*::=", line):
            name, _, body = line.partition("::=")
            name = name.strip()
            rules[name] = body
        elif name is not None and line.strip():
            rules[name] += " " + line
    return rules


def to_regex(grammar: str, root: str = "root", depth: int = 3) -> str:
    rules = _rules(grammar)

    def expand(name: str, level: dict[str, int]) -> str:
        if level.get(name, 0) >= depth:
            return "(?!)"
        inner = {**level, name: level.get(name, 0) + 1}
        out = []
        for tok in _TOKEN.findall(rules[name]):
            if tok.isspace() or tok.startswith("#"):
                continue
            if tok.startswith('"'):
                out.append(re.escape(json.loads(tok)))
            elif tok.startswith("["):
                out.append(tok)
            elif tok == "(":
                out.append("(?:")
            elif tok in ")|?*+":
                out.append(tok)
            else:
                out.append("(?:" + expand(tok, inner) + ")")
        return "".join(out)

    return expand(root, {})


def accepts(grammar: str, text: str) -> bool:
    return re.fullmatch(to_regex(grammar), text, re.DOTALL) is not None

"""Permission rules: `Tool` or `Tool(spec)`, their syntax and the non-shell matchers.

Path specs follow gitignore with Claude Code's anchors: `//abs/path` is absolute,
`~/x` is in the home folder, `/x` and `./x` and `x/y` are relative to the project root,
and a pattern with no slash (`*.env`) matches at any depth. A pattern that names a
folder covers everything below it. `domain:host` specs match exact host names (a
leading `*.` matches subdomains on a label boundary), never string prefixes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from ketch.errors import KetchError


@dataclass(frozen=True)
class Rule:
    tool: str
    spec: str | None = None

    def __str__(self) -> str:
        return self.tool if self.spec is None else f"{self.tool}({self.spec})"


def names_tool(rule_tool: str, tool_name: str) -> bool:
    """Whether a rule's tool part covers `tool_name`: the same name, or, as in Claude Code,
    `mcp__server` and `mcp__server__*` for every tool of that MCP server."""
    if rule_tool == tool_name:
        return True
    if not rule_tool.startswith("mcp__"):
        return False
    server = rule_tool.removesuffix("__*")
    return server.count("__") == 1 and tool_name.startswith(server + "__")


class RuleSyntaxError(KetchError, ValueError):
    pass


@cache
def _tool_name() -> re.Pattern[str]:
    """Compiled at first use: most runs parse no rules."""
    return re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(__\*)?$")


def parse_rules(values: list[str]) -> list[Rule]:
    """Split CLI/settings values into rules: commas or spaces separate, except inside ( )."""
    rules: list[Rule] = []
    for value in values:
        depth, start = 0, 0
        pieces: list[str] = []
        for i, ch in enumerate(value):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            elif depth == 0 and (ch == "," or ch.isspace()):
                pieces.append(value[start:i])
                start = i + 1
        if depth:
            raise RuleSyntaxError(f"unbalanced parenthesis in permission rule {value!r}")
        pieces.append(value[start:])
        rules += [_parse_one(p.strip()) for p in pieces if p.strip()]
    return rules


def _parse_one(text: str) -> Rule:
    if "(" in text:
        if not text.endswith(")"):
            raise RuleSyntaxError(f"permission rule {text!r} must look like Tool or Tool(spec)")
        name, spec = text[: text.index("(")], text[text.index("(") + 1 : -1]
    else:
        name, spec = text, None
    if not _tool_name().match(name):
        raise RuleSyntaxError(f"bad tool name in permission rule {text!r}")
    return Rule(tool=name, spec=spec if spec and spec.strip() else None)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    from ketch.tools.glob import compile_glob

    return compile_glob(pattern)


def path_rule_matches(spec: str, path: Path, workspace: Path, home: Path) -> bool:
    """Does a gitignore-style path spec cover the canonical `path`?"""
    spec = spec.strip()
    if spec.startswith("//"):
        base, pattern = Path("/"), spec[2:]
    elif spec.startswith("~/"):
        base, pattern = home, spec[2:]
    else:
        base = workspace
        anchored = spec.startswith(("./", "/"))
        pattern = spec[2:] if spec.startswith("./") else spec.lstrip("/")
        if not anchored and "/" not in pattern.rstrip("/"):
            pattern = "**/" + pattern  # `*.env`: at any depth, as in .gitignore
    pattern = pattern.rstrip("/") or "**"
    regex = _compiled(pattern)
    for b in {Path(os.path.abspath(base)), Path(os.path.realpath(base))}:
        try:
            rel = path.relative_to(b)
        except ValueError:
            continue
        parts = rel.parts
        # the path itself or any folder above it (a rule naming a folder covers its contents)
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(len(parts), 0, -1)):
            return True
    return False


def web_rule_matches(spec: str, url: str) -> bool:
    """`domain:example.com` matches exactly that host; `domain:*.example.com` its subdomains."""
    from urllib.parse import urlsplit

    wanted = spec[len("domain:"):].strip().lower().rstrip(".")
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if not host or not wanted:
        return False
    if wanted.startswith("*."):
        return host.endswith("." + wanted[2:])
    return host == wanted

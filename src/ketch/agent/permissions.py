"""The permission gate: which tool calls run, which are refused, which need a person.

Interim policy until the security issue brings layered settings and a real shell
parser (DESIGN.md §5): read-only tools run; writes and commands need a rule or a
mode; a deny always wins and never degrades to an ask. Where the gate is unsure
whether an allow rule covers a shell command (operators, substitutions, redirects),
it does not allow: it asks, and headless runs refuse what would ask.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ketch.tools.paths import is_inside

MODES = ("default", "acceptEdits", "plan", "bypassPermissions")

Verdict = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class Rule:
    tool: str
    spec: str | None = None

    def __str__(self) -> str:
        return self.tool if self.spec is None else f"{self.tool}({self.spec})"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    source: Literal["mode", "rule"] = "mode"


class RuleSyntaxError(ValueError):
    pass


_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


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
        for piece in (p.strip() for p in pieces):
            if piece:
                rules.append(_parse_one(piece))
    return rules


def _parse_one(text: str) -> Rule:
    if "(" in text:
        if not text.endswith(")"):
            raise RuleSyntaxError(f"permission rule {text!r} must look like Tool or Tool(spec)")
        name, spec = text[: text.index("(")], text[text.index("(") + 1 : -1]
    else:
        name, spec = text, None
    if not _TOOL_NAME.match(name):
        raise RuleSyntaxError(f"bad tool name in permission rule {text!r}")
    if spec is not None and not spec.strip():
        spec = None
    return Rule(tool=name, spec=spec)


# Anything that makes one command line do more than one thing, or more than it says.
_SHELL_COMPLEX = re.compile(r"[;&|`\n\r<>]|\$\(|\$\{|<\(|>\(")
_WRAPPER = re.compile(
    r"^(?:sudo|nohup|nice(?:\s+-n\s*\S+)?|time|command|exec|builtin|env(?:\s+-\S+)*(?:\s+\w+=\S*)*"
    r"|timeout(?:\s+-\S+)*\s+\S+|xargs(?:\s+-\S+)*|\w+=\S*)\s+"
)
_SHELL_SPLIT = re.compile(r"\|\||&&|[;&|\n\r]|\$\(|`|<\(|>\(|\)")


def _bash_spec_matches(spec: str, command: str) -> bool:
    command = command.strip()
    if spec.endswith(":*"):
        prefix = spec[:-2].rstrip()
        if command == prefix:
            return True
        if not command.startswith(prefix):
            return False
        return not prefix or not prefix[-1].isalnum() or not command[len(prefix)].isalnum()
    return command == spec.strip()


def _bash_allow(spec: str, command: str) -> bool:
    """An allow rule covers a command only if the command is one plain simple command."""
    if command.strip() == spec.strip():
        return True
    if _SHELL_COMPLEX.search(command):
        return False
    return _bash_spec_matches(spec, command)


def _bash_deny(spec: str, command: str) -> bool:
    """A deny rule hits if the whole command or any part of it matches (over-approximate)."""
    parts = [command] + [p for p in _SHELL_SPLIT.split(command) if p.strip()]
    for part in parts:
        words = part.strip()
        # look through common wrappers so `timeout 5 rm -rf x` still hits `rm:*`
        while True:
            m = _WRAPPER.match(words)
            if not m:
                break
            words = words[m.end():]
        if _bash_spec_matches(spec, words) or _bash_spec_matches(spec, part.strip()):
            return True
    return False


def _path_matches(spec: str, path: Path, workspace: Path) -> bool:
    spec = os.path.expanduser(spec)
    candidates = [str(path)]
    try:
        rel = path.relative_to(workspace)
        candidates += [str(rel), "./" + str(rel)]
    except ValueError:
        pass
    pattern = spec[2:] if spec.startswith("./") else spec
    for c in candidates:
        if fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, spec):
            return True
        if pattern.endswith("/**") and (c + "/").startswith(pattern[:-2]):
            return True
    return False


def rule_matches(rule: Rule, tool_name: str, tool_input: dict[str, Any], paths: list[Path],
                 workspace: Path, *, for_deny: bool) -> bool:
    if rule.tool != tool_name:
        return False
    if rule.spec is None:
        return True
    if tool_name == "Bash":
        command = str(tool_input.get("command", ""))
        return _bash_deny(rule.spec, command) if for_deny else _bash_allow(rule.spec, command)
    if paths:
        hits = [_path_matches(rule.spec, p, workspace) for p in paths]
        return any(hits) if for_deny else all(hits)
    return False


@dataclass
class PermissionGate:
    mode: str
    allow: list[Rule]
    deny: list[Rule]
    workspace: Path

    def decide(self, tool_name: str, kind: str, tool_input: dict[str, Any], paths: list[Path]) -> Decision:
        for rule in self.deny:
            if rule_matches(rule, tool_name, tool_input, paths, self.workspace, for_deny=True):
                return Decision("deny", f"denied by rule {rule}", "rule")
        if self.mode == "bypassPermissions":
            return Decision("allow", "bypassPermissions mode")
        if kind in ("read", "other"):
            return Decision("allow", "read-only tool")
        if self.mode == "plan":
            return Decision("deny", f"plan mode: {tool_name} would change files or run commands")
        for rule in self.allow:
            if rule_matches(rule, tool_name, tool_input, paths, self.workspace, for_deny=False):
                return Decision("allow", f"allowed by rule {rule}", "rule")
        if self.mode == "acceptEdits" and kind == "edit" and paths:
            if all(is_inside(p, self.workspace) for p in paths):
                return Decision("allow", "acceptEdits mode: edit inside the working folder")
            return Decision("ask", f"{tool_name} targets a path outside the working folder")
        what = "run a command" if kind == "execute" else "change files"
        return Decision("ask", f"{tool_name} would {what}, and no rule or mode allows it")

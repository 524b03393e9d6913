"""Reading git config leniently: includes followed, hooksPath and the programs config names.

Lenient is safe here because every config file read this way is protected: the model cannot
have written it (new repositories made during a command are checked strictly by git/audit.py).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

MAX_INCLUDE_DEPTH = 10  # git's own limit
# Config keys (their last part) whose value is a command git runs; a path in it is code.
_PROGRAM_KEYS = frozenset({
    "fsmonitor", "editor", "pager", "sshcommand", "askpass", "program", "external", "textconv", "command",
    "clean", "smudge", "process", "driver", "helper", "difffilter", "packobjectshook",
})
_BOOLEANS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0", ""})


def resolve(raw: str, base: Path, home: Path) -> Path:
    if raw.startswith("~/"):
        return Path(os.path.normpath(home / raw[2:]))
    return Path(os.path.normpath(os.path.join(base, raw)))


@dataclass
class ConfigValues:
    includes: list[Path] = field(default_factory=list)
    hooks_paths: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)


def read_config(path: Path, home: Path, values: ConfigValues, depth: int) -> None:
    """Collect include targets (followed, every condition taken as true), hooksPath and program paths."""
    if depth > MAX_INCLUDE_DEPTH:
        return
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 20).decode("utf-8", "surrogateescape")
    except OSError:
        return
    for section, key, value in parse_config(text):
        if key == "path" and (section == "include" or section.startswith("includeif")):
            if not value or value.startswith("%("):
                continue
            target = resolve(value, path.parent, home)
            values.includes.append(target)
            read_config(target, home, values, depth + 1)
        elif section == "core" and key == "hookspath" and value:
            values.hooks_paths.append(value)
        elif key in _PROGRAM_KEYS or section == "alias":
            program = _program_path(value)
            if program:
                values.programs.append(program)


def _program_path(value: str) -> str | None:
    """The program of a command value when it is named by a path (contains a slash)."""
    value = value.lstrip("!").strip()
    if value.lower() in _BOOLEANS:
        return None
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    if words and "/" in words[0]:
        return words[0]
    return None


def parse_config(text: str) -> list[tuple[str, str, str]]:
    """(section lowercased incl. subsection, key lowercased, value) for each assignment.

    Follows git's syntax closely enough for files written by people and by git: comments,
    `[section "sub"]` and `[section.sub]` headers, quoted values with escapes, and
    backslash-newline continuation.
    """
    out: list[tuple[str, str, str]] = []
    section = ""
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(" \t\ufeff")
        i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            end = line.find("]")
            header = line[1:end] if end > 0 else line[1:]
            name, _, sub = header.strip().partition(" ")
            section = (name.lower() + ("." + sub.strip().strip('"') if sub else "")).strip()
            rest = line[end + 1:].strip() if end > 0 else ""
            if not rest or rest[0] in "#;":
                continue
            line = rest  # `[core] hooksPath = x` on one line
        key, eq, raw = line.partition("=")
        while raw.rstrip("\n").endswith("\\") and not raw.endswith("\\\\") and i < len(lines):
            raw = raw[:-1] + lines[i]
            i += 1
        out.append((section, key.strip().lower(), _unquote(raw) if eq else ""))
    return out


def _unquote(raw: str) -> str:
    value, quoted, i = [], False, 0
    raw = raw.strip()
    while i < len(raw):
        c = raw[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and i + 1 < len(raw):
            i += 1
            value.append({"n": "\n", "t": "\t", "b": "\b"}.get(raw[i], raw[i]))
        elif c in "#;" and not quoted:
            break
        else:
            value.append(c)
        i += 1
    return "".join(value).strip()

"""Agent definitions in Claude Code's shape: Markdown with front matter; the body is the system prompt.

    ---
    name: reviewer
    description: Reviews a diff for bugs. Use after every change.
    tools: Read, Grep, Glob        # or a YAML list; omitted: the parent's tools (never Task)
    model: haiku                   # sonnet, opus, haiku, inherit (default), or a model spec
    ---
    You are a careful reviewer...

Where they come from, lowest precedence first: the built-ins (package data), the user's folders
(`~/.claude/agents`, then `$KETCH_HOME/agents`), the project's (`.claude/agents`, then
`.ketch/agents`), then `--agents JSON`. On a name clash the later one wins; when `.ketch/`
shadows `.claude/` the person is told once (a warning).

A project's definitions are prompt text (DESIGN.md §5.6): read with the memory files' rules
(real path inside the project, no credential files, small regular files), and they cannot
widen anything: a child's tools are the definition's list intersected with its parent's, and a
project's `model` may only be an alias or a model name on the parent's provider, never another
provider or a local model file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ketch.errors import ConfigError

MAX_BYTES = 64 * 1024
MAX_FILES = 200  # per folder
ALIASES = ("sonnet", "opus", "haiku", "inherit")
BUILT_INS = ("general-purpose", "Explore")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class DefinitionError(ConfigError):
    """A definition that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class AgentDefinition:
    name: str
    description: str
    prompt: str
    tools: tuple[str, ...] | None = None  # None: every tool the parent has, but Task
    model: str = "inherit"
    source: str = "built-in"  # built-in, user, project, cli
    path: str = ""  # the file it came from ("" for built-ins and --agents)

    def where(self) -> str:
        return f"{self.source}: {self.path}" if self.path else self.source


def load_definitions(workspace: Path, ketch_home: Path, cli_json: list[str],
                     warn: Callable[[str], None], home: Path | None = None) -> dict[str, AgentDefinition]:
    """Every usable definition by name; a bad file costs one warning and is skipped. A bad
    `--agents` value is the person's own typing: ConfigError, the run stops with the fix."""
    home = home or Path.home()
    found = {d.name: d for d in built_ins()}
    for source, root, folder in _folders(workspace, ketch_home, home):
        shadowed = dict(found)
        for definition in read_folder(folder, root, source, warn, home):
            earlier = shadowed.get(definition.name)
            if earlier is not None and earlier.source == "project" and "/.claude/agents/" in earlier.path and "/.ketch/agents/" in definition.path:
                warn(f"agent {definition.name!r}: {definition.path} is used, not {earlier.path}")
            found[definition.name] = definition
    for value in cli_json:
        found.update({d.name: d for d in parse_cli_agents(value)})
    return found


def _folders(workspace: Path, ketch_home: Path, home: Path) -> list[tuple[str, Path, Path]]:
    """(source, the root a file must really be inside, folder), in load order."""
    return [("user", home / ".claude" / "agents", home / ".claude" / "agents"),
            ("user", ketch_home / "agents", ketch_home / "agents"),
            ("project", workspace, workspace / ".claude" / "agents"),
            ("project", workspace, workspace / ".ketch" / "agents")]


def may_have_definitions(workspace: Path, ketch_home: Path, cli_json: list[str], home: Path | None = None) -> bool:
    """A few stats: whether anything beyond the built-ins could be defined (for /agents, and tests)."""
    home = home or Path.home()
    return bool(cli_json) or any(os.path.isdir(folder) for _, _, folder in _folders(workspace, ketch_home, home))


def built_ins() -> list[AgentDefinition]:
    data = resources.files("ketch.ext.subagents") / "data"
    return [parse_definition((data / f"{name}.md").read_text(encoding="utf-8"), f"{name}.md", "built-in", "")
            for name in BUILT_INS]


def read_folder(folder: Path, root: Path, source: str, warn: Callable[[str], None],
                home: Path) -> list[AgentDefinition]:
    """The `*.md` files directly in `folder` (Claude Code does not recurse), sorted by name."""
    from ketch.security.prompt_files import Refused, read_prompt_file

    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".md") and not n.startswith("."))
    except OSError:
        return []
    out = []
    for filename in names[:MAX_FILES]:
        path = folder / filename
        text = read_prompt_file(path, root, max_bytes=MAX_BYTES, home=home)
        if isinstance(text, Refused):
            warn(f"skipped agent definition {path}: {text.reason}")
            continue
        if text is None:
            continue
        try:
            out.append(parse_definition(text, str(path), source, str(path)))
        except DefinitionError as exc:
            warn(f"skipped agent definition {exc}")
    return out


def parse_definition(text: str, where: str, source: str, path: str) -> AgentDefinition:
    """One Markdown definition; DefinitionError("<where>: what to fix") when it cannot be one."""
    meta, body = _front_matter(text.lstrip("\ufeff"), where)
    return _definition(meta, body, where, source, path)


def parse_cli_agents(value: str) -> list[AgentDefinition]:
    """`--agents '{"name": {"description": ..., "prompt": ..., "tools": [...], "model": ...}}'`."""
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"--agents: not valid JSON ({exc}); pass an object like "
                          '{"reviewer": {"description": "...", "prompt": "..."}}') from None
    if not isinstance(data, dict):
        raise ConfigError('--agents: expected a JSON object of agents by name, e.g. {"reviewer": {...}}')
    out = []
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"--agents: agent {name!r} must be an object with description and prompt")
        meta = {k: v for k, v in spec.items() if k != "prompt"}
        meta["name"] = name
        prompt = spec.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"--agents: agent {name!r} needs a \"prompt\" (its system prompt)")
        try:
            out.append(_definition(meta, prompt, f"--agents {name!r}", "cli", ""))
        except DefinitionError as exc:
            raise ConfigError(str(exc)) from None
    return out


def _definition(meta: dict[str, Any], body: str, where: str, source: str, path: str) -> AgentDefinition:
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"{where}: the front matter has no 'name'")
    if not _NAME.fullmatch(name):
        raise DefinitionError(f"{where}: name {_visible(name)!r} may use only letters, digits, '_', '.', ':', '-' "
                              "(at most 64)")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        raise DefinitionError(f"{where}: agent {name!r} has no 'description' (say when to use it)")
    tools = _tools(meta.get("tools"), where)
    model = meta.get("model", "inherit") or "inherit"
    if not isinstance(model, str) or not re.fullmatch(r"[A-Za-z0-9][\w.:/@-]*", model):
        raise DefinitionError(f"{where}: model must be sonnet, opus, haiku, inherit or a model name")
    if source == "project" and model not in ALIASES and (":" in model or "/" in model):
        raise DefinitionError(f"{where}: a project's agent may name sonnet, opus, haiku, inherit or a model of the "
                              f"session's provider, not {model!r}")
    if not body.strip():
        raise DefinitionError(f"{where}: agent {name!r} has no system prompt (the text after the front matter)")
    return AgentDefinition(name, _visible(description.strip())[:1024], body.strip() + "\n", tools, model, source, path)


def _tools(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise DefinitionError(f"{where}: tools must be a comma-separated list or a list of tool names")
    for item in items:
        if not re.fullmatch(r"[A-Za-z_][\w-]*(\(.*\))?", item):
            raise DefinitionError(f"{where}: {_visible(item)!r} is not a tool name")
    return tuple(item.split("(", 1)[0] for item in items)


def _front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """YAML-ish front matter: `key: value`, `key: [a, b]` and `key:` followed by `- item` lines.
    Enough for agent files without importing a YAML parser; anything else is a one-line error."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise DefinitionError(f"{where}: no front matter: start the file with a '---' line, then name: and "
                              "description:, then '---'")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise DefinitionError(f"{where}: the front matter has no closing '---' line")
    meta: dict[str, Any] = {}
    key = ""
    for number, line in enumerate(lines[1:end], start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("- ") and key and isinstance(meta.get(key), list):
            meta[key].append(_scalar(stripped[2:]))
            continue
        name, sep, value = line.partition(":")
        if not sep or line[:1].isspace() or not re.fullmatch(r"[A-Za-z][\w-]*", name.strip()):
            raise DefinitionError(f"{where}: line {number}: expected 'key: value' in the front matter, "
                                  f"not {_visible(stripped)[:60]!r}")
        key, value = name.strip().lower(), value.strip()
        if not value:
            meta[key] = []
        elif value.startswith("[") and value.endswith("]"):
            meta[key] = [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            meta[key] = _scalar(value)
    return meta, "\n".join(lines[end + 1:]).lstrip("\n")


def _scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _visible(text: str) -> str:
    """Shown in /agents and warnings: a control character from a file must not reach the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)

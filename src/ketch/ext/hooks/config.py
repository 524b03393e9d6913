"""Hooks as Claude Code writes them, read from every settings layer, sorted by what may run.

    {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "...", "timeout": 30}]}]}}

Layers: managed settings and the person's own files (`$KETCH_HOME/settings.json`, the folder's
remembered settings under `$KETCH_HOME/projects/`) run as written; a problem in them is a
ConfigError, since the person wrote them. A project's files (`.ketch/settings*.json`,
`.claude/settings*.json`) are someone else's programs: read through the prompt-file rule,
used only in a trusted folder and only once the person approved that exact set (approvals.py),
and a problem in them is a notice. `disableAllHooks: true` turns off the hooks of its layer and
those below, never above: a project's hooks alone from a project's file (a hook the person relies
on as a guard is not for a cloned repository to switch off), all but managed ones from the
person's, all from managed settings; managed `allowManagedHooksOnly` keeps only managed ones.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ketch.errors import ConfigError

EVENTS = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "SubagentStop", "SessionStart",
          "SessionEnd", "PreCompact", "Notification", "PermissionRequest")
# Events whose matcher applies, and to what: the tool's name, or the event's `source`/`trigger`/...
MATCHED = {"PreToolUse": "tool_name", "PostToolUse": "tool_name", "PermissionRequest": "tool_name",
           "SessionStart": "source", "SessionEnd": "reason", "PreCompact": "trigger",
           "Notification": "notification_type"}
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 3600.0  # a longer timeout is cut to this: every hook ends (DESIGN.md §5.9)
PROJECT_FILES = (".ketch/settings.json", ".ketch/settings.local.json", ".claude/settings.json",
                 ".claude/settings.local.json")
MAX_PROJECT_BYTES = 256 * 1024

Scope = Literal["managed", "user", "local", "project"]


@dataclass(frozen=True)
class HookCommand:
    event: str
    matcher: str
    command: str
    timeout_s: float
    source: str  # the settings file, for /hooks and notices
    scope: Scope


@dataclass
class HookSet:
    """`active`: will run. `pending`: a project's hooks awaiting the person's approval (all or
    none: they were approved as a set). `notices`: one line per thing skipped, and why."""

    active: list[HookCommand] = field(default_factory=list)
    pending: list[HookCommand] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    disabled_by: str | None = None  # the file whose disableAllHooks turned them all off

    def matching(self, event: str, subject: str | None) -> list[HookCommand]:
        """The active hooks for this event and subject, each distinct command once."""
        seen: set[str] = set()
        found = []
        for hook in self.active:
            if hook.event != event or hook.command in seen:
                continue
            if subject is not None and not matches(hook.matcher, subject):
                continue
            seen.add(hook.command)
            found.append(hook)
        return found

    def has(self, event: str) -> bool:
        return any(h.event == event for h in self.active)


def matches(matcher: str, subject: str) -> bool:
    """Claude Code's matcher: empty or `*` is everything; plain names (with `|`) match exactly;
    anything else is a regular expression searched in the subject (`mcp__github__.*`, `^Notebook`)."""
    if matcher in ("", "*"):
        return True
    if _plain().fullmatch(matcher):
        return subject in matcher.split("|")
    pattern = _compiled(matcher)
    return pattern is not None and pattern.search(subject) is not None


@lru_cache(maxsize=1)
def _plain() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9_|]+")


@lru_cache(maxsize=256)
def _compiled(matcher: str) -> re.Pattern[str] | None:
    try:
        return re.compile(matcher)
    except re.error:
        return None


def parse_hooks(data: dict[str, Any], source: str, scope: Scope) -> tuple[list[HookCommand], list[str]]:
    """The `hooks` object of one file; problems as one line each, naming the file and what to write."""
    hooks = data.get("hooks")
    if hooks is None:
        return [], []
    example = '{"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "..."}]}]}'
    if not isinstance(hooks, dict):
        return [], [f"{source}: hooks must be an object, e.g. {example}"]
    found: list[HookCommand] = []
    problems: list[str] = []
    for event, groups in hooks.items():
        where = f"{source}: hooks.{event}"
        if event not in EVENTS:
            problems.append(f"{where}: unknown event; ketch runs {', '.join(EVENTS)}")
            continue
        if not isinstance(groups, list):
            problems.append(f"{where} must be a list of {{\"matcher\": ..., \"hooks\": [...]}} objects")
            continue
        for i, group in enumerate(groups):
            found += _parse_group(event, group, f"{where}[{i}]", source, scope, problems)
    return found, problems


def _parse_group(event: str, group: Any, where: str, source: str, scope: Scope,
                 problems: list[str]) -> list[HookCommand]:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        problems.append(f'{where} must be an object with a "hooks" list')
        return []
    matcher = group.get("matcher", "")
    if not isinstance(matcher, str):
        problems.append(f'{where}.matcher must be a string such as "Bash" or "Edit|Write"')
        return []
    if not (matcher in ("", "*") or _plain().fullmatch(matcher) or _compiled(matcher)):
        problems.append(f"{where}.matcher {matcher!r} is not a valid regular expression")
        return []
    found = []
    for j, entry in enumerate(group["hooks"]):
        at = f"{where}.hooks[{j}]"
        if not isinstance(entry, dict):
            problems.append(f'{at} must be an object such as {{"type": "command", "command": "..."}}')
            continue
        if entry.get("type", "command") != "command":
            problems.append(f"{at}: hook type {entry.get('type')!r} is not supported by ketch (only \"command\")")
            continue
        command = entry.get("command")
        if not isinstance(command, str) or not command.strip():
            problems.append(f"{at}.command must be a non-empty string")
            continue
        timeout = entry.get("timeout", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0 \
                or timeout == float("inf"):
            problems.append(f"{at}.timeout must be a positive number of seconds, e.g. 30")
            continue
        found.append(HookCommand(event, matcher, command, min(float(timeout), MAX_TIMEOUT_S), source, scope))
    return found


def load_hooks(workspace: Path, *, trusted: bool) -> HookSet:
    """Every hook of a session in `workspace`; project hooks are `pending` until approved."""
    from ketch.config.project_store import remembered_path
    from ketch.config.settings import managed_settings_path, user_settings_path
    from ketch.ext.hooks.approvals import is_approved

    workspace = Path(os.path.realpath(workspace))
    result = HookSet()
    managed = _read_own(managed_settings_path())
    own: list[tuple[Scope, Path, dict[str, Any] | None]] = [
        ("managed", managed_settings_path(), managed),
        ("user", user_settings_path(), _read_own(user_settings_path())),
        ("local", remembered_path(workspace), _remembered(workspace)),
    ]
    project = _project_layers(workspace, result.notices)
    # disableAllHooks turns off its own layer's hooks and those below, never above: managed
    # settings' turn off all, the person's all but managed ones, a project's only its own.
    off = next((path for _, path, data in own if data and data.get("disableAllHooks") is True), None)
    off_scope = next((scope for scope, _, data in own if data and data.get("disableAllHooks") is True), None)
    if off is None:
        off = next((p for p, d in project if d.get("disableAllHooks") is True), None)
    if off is not None:
        result.disabled_by = str(off)
        if off_scope == "managed":
            return result
    managed_only = bool(managed and managed.get("allowManagedHooksOnly") is True)
    for scope, path, data in own:
        if data is None or (managed_only and scope != "managed") or (off_scope is not None and scope != "managed"):
            continue
        hooks, problems = parse_hooks(data, str(path), scope)
        if problems:
            raise ConfigError(problems[0])
        result.active += hooks
    if off is not None:
        return result  # a project's hooks sit below every layer that can switch hooks off
    project_hooks: list[HookCommand] = []
    for path, data in project:
        hooks, problems = parse_hooks(data, str(path), "project")
        result.notices += [f"{line}; skipped" for line in problems]
        project_hooks += hooks
    if not project_hooks:
        return result
    if managed_only:
        result.notices.append("the project's hooks are not run: managed settings allow managed hooks only")
    elif not trusted:
        result.notices.append("the project's hooks are not run: this folder is not trusted "
                              "(trust it with `ketch --trust` to be asked about them)")
    elif is_approved(workspace, project_hooks):
        result.active += project_hooks
    else:
        result.pending = project_hooks
    return result


def _read_own(path: Path) -> dict[str, Any] | None:
    from ketch.ext.mcp.scopes import read_own

    return read_own(path)


def _remembered(workspace: Path) -> dict[str, Any] | None:
    from ketch.ext.mcp.scopes import read_local

    data, _ = read_local(workspace)  # another folder's file: not this folder's hooks
    return data


def _project_layers(workspace: Path, notices: list[str]) -> list[tuple[Path, dict[str, Any]]]:
    """The project's settings files that exist and could be read (a problem is a notice)."""
    from ketch.config.settings import user_settings_path
    from ketch.ext.mcp.scopes import parse_object
    from ketch.security.prompt_files import Refused, read_prompt_file

    layers = []
    for name in PROJECT_FILES:
        path = workspace / name
        if _same_file(path, user_settings_path()):
            continue  # run from the home folder: ~/.ketch/settings.json is the person's own
        text = read_prompt_file(path, workspace, max_bytes=MAX_PROJECT_BYTES)
        if text is None:
            continue
        if isinstance(text, Refused):
            notices.append(f"{path} not read for hooks: {text.reason}")
            continue
        try:
            layers.append((path, parse_object(text, path)))
        except ValueError as exc:
            notices.append(f"{exc}; its hooks are skipped")
    return layers


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


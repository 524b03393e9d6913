"""Settings layers: where each settings file is, and reading one file into a LayerSettings.

Files, highest precedence first (Claude Code's format, so habits carry over):

    managed   /etc/ketch/managed-settings.json   (env KETCH_MANAGED_SETTINGS overrides the path)
    cli       the command line, passed in by the caller
    local       <workspace>/.ketch/settings.local.json
    project     <workspace>/.ketch/settings.json
    claude-local    <workspace>/.claude/settings.local.json   (a Claude Code project's, read
    claude-project  <workspace>/.claude/settings.json          the same way, below .ketch/'s)
    remembered  $KETCH_HOME/projects/<folder>/settings.json   (what the person chose to
                "always allow" here: theirs, outside the tree, see `project_store`)
    user        $KETCH_HOME/settings.json          (default ~/.ketch)

A project is written by whoever wrote the repository, so it is trusted only to make things
safer (DESIGN.md §5.5): its deny and ask rules and a `plan`/`default` mode always apply;
anything that loosens or redirects (allow rules, other modes, the model, extra directories,
network hosts) applies only once the user trusts the folder, and is otherwise listed in
`EffectivePolicy.ignored` so the user can see what was held back. Nothing in any settings
file can set environment variables or provider base URLs: the `env` key is never read.

Every file problem is a ConfigError of one line naming the file, the line and column, and
what to write instead. An unknown key is a one-line warning with the closest valid spelling
(`settings_keys`), and the file still loads; a known key with the wrong type, or a misspelt
deny/ask list, is an error, because silently dropping a deny list would loosen policy.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ketch.errors import ConfigError

# Kept here rather than imported from the permission gate so that reading settings never
# imports the agent. The gate must accept every one of these.
MODES = ("default", "acceptEdits", "plan", "dontAsk", "bypassPermissions")
# Modes a project may set without being trusted: they never let more run than `default`.
TIGHTENING_MODES = ("default", "plan")
LAYERS = ("managed", "cli", "local", "project", "claude-local", "claude-project", "remembered", "user")
PROJECT_LAYERS = ("local", "project", "claude-local", "claude-project")

DEFAULT_MANAGED_PATH = Path("/etc/ketch/managed-settings.json")
MAX_SETTINGS_BYTES = 1024 * 1024


def ketch_home() -> Path:
    return Path(os.environ.get("KETCH_HOME") or Path.home() / ".ketch")


def managed_settings_path() -> Path:
    return Path(os.environ.get("KETCH_MANAGED_SETTINGS") or DEFAULT_MANAGED_PATH)


def user_settings_path() -> Path:
    return ketch_home() / "settings.json"


def project_settings_paths(workspace: Path) -> dict[str, Path]:
    """The project's files, keyed by layer name, highest precedence first: ketch's own, then a
    Claude Code project's (`.ketch/` wins where both set the mode or the model; rules add up)."""
    base, claude = Path(workspace) / ".ketch", Path(workspace) / ".claude"
    return {"local": base / "settings.local.json", "project": base / "settings.json",
            "claude-local": claude / "settings.local.json", "claude-project": claude / "settings.json"}


# --- one file -------------------------------------------------------------------------------


@dataclass
class LayerSettings:
    """What one settings file says, validated but not yet merged."""

    path: Path | None = None
    model: str | None = None
    allow: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    default_mode: str | None = None
    additional_directories: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    writable_caches: bool | None = None  # sandbox.writableCaches: the user's package caches writable from the sandbox
    allow_unix_sockets: bool | None = None  # sandbox.allowUnixSockets: sandboxed commands may create unix sockets
    disable_bypass: bool = False
    has_env: bool = False  # an `env` block was present (and, by design, not read)
    warnings: list[str] = field(default_factory=list)  # one line each: keys that mean nothing
    project: str | None = None  # the per-project store's owner (its canonical path)


@cache
def _ws() -> re.Pattern[str]:
    """JSON whitespace; compiled at first use: only a settings error needs a position."""
    return re.compile(r"[ \t\n\r]*")


def _value_offset(text: str, keys: Sequence[str]) -> int | None:
    """Offset of the value at `keys` (object keys from the top) in valid JSON text.

    json.loads does not keep positions, and a type error is far easier to fix with a line
    number; this walks only the objects on the path, skipping other values with raw_decode.
    The last duplicate key wins, as it does in json.loads.
    """
    decoder = json.JSONDecoder()
    try:
        idx = _ws().match(text, 0).end()  # type: ignore[union-attr]
        for key in keys:
            if text[idx : idx + 1] != "{":
                return None
            idx = _ws().match(text, idx + 1).end()  # type: ignore[union-attr]
            found = None
            while text[idx : idx + 1] == '"':
                name, idx = json.decoder.scanstring(text, idx + 1)  # type: ignore[attr-defined]
                idx = _ws().match(text, idx).end()  # type: ignore[union-attr]
                if text[idx : idx + 1] != ":":
                    return None
                idx = _ws().match(text, idx + 1).end()  # type: ignore[union-attr]
                if name == key:
                    found = idx
                _, idx = decoder.raw_decode(text, idx)
                idx = _ws().match(text, idx).end()  # type: ignore[union-attr]
                if text[idx : idx + 1] == ",":
                    idx = _ws().match(text, idx + 1).end()  # type: ignore[union-attr]
            if found is None:
                return None
            idx = found
        return idx
    except (ValueError, AttributeError, IndexError):
        return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class _Checker:
    """Type checks for one file, raising one-line errors that point at the bad value."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, keys: Sequence[str], message: str) -> ConfigError:
        offset = _value_offset(self.text, keys)
        where = ""
        if offset is not None:
            line, column = _line_col(self.text, offset)
            where = f"line {line} column {column}: "
        return ConfigError(f"{self.path}: {where}{message}")

    def obj(self, data: dict[str, Any], keys: Sequence[str], example: str) -> dict[str, Any]:
        value = data.get(keys[-1])
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(keys, f"{'.'.join(keys)} must be an object, e.g. {example}")
        return value

    def string(self, data: dict[str, Any], keys: Sequence[str], example: str) -> str | None:
        value = data.get(keys[-1])
        if value is not None and not isinstance(value, str):
            raise self.fail(keys, f"{'.'.join(keys)} must be a string, e.g. {example}")
        return value

    def flag(self, data: dict[str, Any], keys: Sequence[str], example: str) -> bool | None:
        value = data.get(keys[-1])
        if value is not None and not isinstance(value, bool):
            raise self.fail(keys, f"{'.'.join(keys)} must be true or false, e.g. {example}")
        return value

    def strings(self, data: dict[str, Any], keys: Sequence[str], example: str) -> list[str]:
        value = data.get(keys[-1])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(keys, f"{'.'.join(keys)} must be a list of strings, e.g. {example}")
        return list(value)


@cache
def _host() -> re.Pattern[str]:
    """An allowedHosts entry; compiled at first use: most settings name no hosts."""
    return re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$")


def parse_settings_text(text: str, path: Path, extra_keys: frozenset[str] = frozenset()) -> LayerSettings:
    """Validate one file's text. Empty text is an empty layer.

    `extra_keys` are top-level keys the caller reads itself (the per-project store's `project`).
    """
    if not text.strip():
        return LayerSettings(path=path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
            "(check for a missing or extra comma, quote or brace)"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: line 1 column 1: the top level must be a JSON object, e.g. {{"model": "..."}}')
    check = _Checker(path, text)
    warnings = _key_warnings(check, data, extra_keys)
    perms = check.obj(data, ["permissions"], '{"allow": [], "deny": []}')
    rule = '["Bash(npm test:*)"]'
    mode = check.string(perms, ["permissions", "defaultMode"], '"default"')
    if mode is not None and mode not in MODES:
        raise check.fail(["permissions", "defaultMode"],
                         f"permissions.defaultMode {mode!r} is not a mode: use one of {', '.join(MODES)}")
    bypass = perms.get("disableBypassPermissionsMode")
    if bypass is not None and bypass != "disable":
        raise check.fail(["permissions", "disableBypassPermissionsMode"],
                         'permissions.disableBypassPermissionsMode can only be "disable"')
    sandbox = check.obj(data, ["sandbox"], '{"network": {"allowedHosts": ["pypi.org"]}}')
    network = check.obj(sandbox, ["sandbox", "network"], '{"allowedHosts": ["pypi.org"]}')
    host_keys = ["sandbox", "network", "allowedHosts"]
    hosts = [h.strip().lower() for h in check.strings(network, host_keys, '["pypi.org"]')]
    for host in hosts:
        if not _host().match(host):
            raise check.fail(host_keys, f"sandbox.network.allowedHosts entry {host!r} must be a bare host name "
                                        'such as "pypi.org" (no scheme, path or user)')
    return LayerSettings(
        path=path,
        model=check.string(data, ["model"], '"claude-sonnet-4-5"'),
        allow=check.strings(perms, ["permissions", "allow"], rule),
        ask=check.strings(perms, ["permissions", "ask"], rule),
        deny=check.strings(perms, ["permissions", "deny"], rule),
        default_mode=mode,
        additional_directories=check.strings(perms, ["permissions", "additionalDirectories"], '["../shared"]'),
        allowed_hosts=hosts,
        writable_caches=check.flag(sandbox, ["sandbox", "writableCaches"], "false"),
        allow_unix_sockets=check.flag(sandbox, ["sandbox", "allowUnixSockets"], "false"),
        disable_bypass=bypass == "disable",
        has_env="env" in data,
        warnings=warnings,
        project=check.string(data, ["project"], '"/path/to/project"') if "project" in extra_keys else None,
    )


def _key_warnings(check: _Checker, data: dict[str, Any], extra_keys: frozenset[str]) -> list[str]:
    """One warning per key that means nothing; a misspelt deny/ask list raises instead."""
    from ketch.config.settings_keys import unknown_keys

    warnings = []
    for unknown in unknown_keys(data, extra_keys):
        error = check.fail(unknown.keys, unknown.message())
        if unknown.fatal:
            raise error
        warnings.append(str(error))
    return warnings


def read_layer(path: Path, extra_keys: frozenset[str] = frozenset()) -> LayerSettings | None:
    """The file's settings, or None when it does not exist; unreadable means ConfigError."""
    data = read_settings_bytes(path)
    if data is None:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text: save it as UTF-8 JSON") from None
    return parse_settings_text(text, path, extra_keys)


def read_settings_bytes(path: Path) -> bytes | None:
    """A settings file's bytes, or None when it does not exist; ConfigError when it cannot be one.

    A project's settings file is a cloned repository's: a named pipe there would block the
    read forever, a link to /dev/zero would fill memory, so only a regular file of at most
    MAX_SETTINGS_BYTES is read (opened without blocking, checked on what was opened)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"cannot read {path}: not a regular file (a pipe, device or folder): make it a JSON file")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_SETTINGS_BYTES // 1024} KB: a settings file this big is "
                          "not one ketch will read")
    return data


# --- the legacy single-file view (user settings only) ----------------------------------------


@dataclass
class Settings:
    model: str | None = None
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    default_mode: str | None = None
    ask: list[str] = field(default_factory=list)


def load_settings(path: Path | None = None) -> Settings:
    """User settings alone; kept for callers that predate `load_policy`."""
    layer = read_layer(path or user_settings_path()) or LayerSettings()
    return Settings(model=layer.model, allow=layer.allow, deny=layer.deny,
                    default_mode=layer.default_mode, ask=layer.ask)

"""User settings: `$KETCH_HOME/settings.json` (default `~/.ketch`).

Project settings are deliberately not read yet: nothing from a project may take effect
before the user trusts the folder (DESIGN.md §5.5), and folder trust arrives with the
security issue. The file format follows Claude Code's so habits carry over:
`{"model": "...", "permissions": {"allow": [...], "deny": [...], "defaultMode": "..."}}`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A settings problem, phrased as one line that says what to fix."""


@dataclass
class Settings:
    model: str | None = None
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    default_mode: str | None = None


def ketch_home() -> Path:
    return Path(os.environ.get("KETCH_HOME") or Path.home() / ".ketch")


def _string_list(value: object, where: str, path: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {where} must be a list of strings")
    return list(value)


def load_settings(path: Path | None = None) -> Settings:
    path = path or ketch_home() / "settings.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.strip():
        return Settings()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"{path}: \"model\" must be a string such as \"claude-sonnet-4-5\"")
    perms = data.get("permissions") or {}
    if not isinstance(perms, dict):
        raise ConfigError(f"{path}: \"permissions\" must be an object with \"allow\" and \"deny\" lists")
    mode = perms.get("defaultMode")
    if mode is not None and not isinstance(mode, str):
        raise ConfigError(f"{path}: permissions.defaultMode must be a string")
    return Settings(
        model=model,
        allow=_string_list(perms.get("allow"), "permissions.allow", path),
        deny=_string_list(perms.get("deny"), "permissions.deny", path),
        default_mode=mode,
    )

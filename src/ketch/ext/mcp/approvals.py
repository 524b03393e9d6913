"""Which of a project's servers the person approved, kept outside the project (DESIGN.md §5.6).

A server in `.mcp.json` runs a program the repository chose, so it starts only after the
person approved that exact entry. The approval is kept beside the folder's remembered rules,
`$KETCH_HOME/projects/<slug>/mcp-approvals.json`, which the project cannot write:

    {"project": "/home/me/src/app", "servers": {"github": "<sha256 of the entry as written>"}}

The fingerprint is of the entry unexpanded (`ServerConfig.raw`), so a changed command, args,
env or URL is asked about again, while a changed value of one of the person's variables is not.
Claude Code's switches are honoured from the person's own settings (user and local), never
from anything the project ships: `enableAllProjectMcpServers`, `enabledMcpjsonServers` (by
name) and `disabledMcpjsonServers` (which wins over any approval).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.errors import ConfigError

if TYPE_CHECKING:
    from ketch.ext.mcp.config import ServerConfig

APPROVALS_NAME = "mcp-approvals.json"


def approvals_path(workspace: Path) -> Path:
    from ketch.config.project_store import remembered_path

    return remembered_path(workspace).with_name(APPROVALS_NAME)


def fingerprint(config: ServerConfig) -> str:
    import hashlib  # ~1 ms (OpenSSL): only a project's servers pay for it

    return hashlib.sha256(config.raw.encode("utf-8")).hexdigest()


def _approved(workspace: Path) -> dict[str, str]:
    """name -> fingerprint; {} when there is no store, it is damaged, or it is another folder's."""
    from ketch.config.project_store import read_record

    servers = read_record(workspace, APPROVALS_NAME).get("servers")
    if not isinstance(servers, dict):
        return {}
    return {k: v for k, v in servers.items() if isinstance(k, str) and isinstance(v, str)}


def is_approved(workspace: Path, config: ServerConfig) -> bool:
    """True when the person approved exactly this entry of the project's .mcp.json."""
    return config.scope == "project" and _approved(workspace).get(config.name) == fingerprint(config)


def approve_server(workspace: Path, config: ServerConfig) -> Path:
    """Record the person's approval of this entry as it is now; return the store's path."""
    from ketch.config.project_store import write_record

    if config.scope != "project":
        raise ValueError(f"only a project's servers need approval, not {config.scope} server {config.name!r}")
    servers = _approved(workspace)
    servers[config.name] = fingerprint(config)
    return write_record(workspace, APPROVALS_NAME, {"servers": dict(sorted(servers.items()))})


@dataclass
class ProjectSwitches:
    """Claude Code's per-person answers about a project's servers, merged from user and local."""

    enable_all: bool = False
    enabled: set[str] = field(default_factory=set)
    disabled: set[str] = field(default_factory=set)

    def add(self, data: dict[str, Any] | None, path: Path) -> None:
        """Merge one of the person's settings files; a wrong type there is a ConfigError."""
        if not data:
            return
        enable_all = data.get("enableAllProjectMcpServers")
        if enable_all is not None:
            if not isinstance(enable_all, bool):
                raise ConfigError(f"{path}: enableAllProjectMcpServers must be true or false")
            self.enable_all = enable_all  # the later (local) file decides
        for key, names in (("enabledMcpjsonServers", self.enabled), ("disabledMcpjsonServers", self.disabled)):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f'{path}: {key} must be a list of server names, e.g. ["github"]')
            names.update(value)

    def decide(self, workspace: Path, config: ServerConfig) -> str:
        """"disabled", "approved" or "pending" for one of the project's servers."""
        if config.name in self.disabled:
            return "disabled"
        if self.enable_all or config.name in self.enabled or is_approved(workspace, config):
            return "approved"
        return "pending"
